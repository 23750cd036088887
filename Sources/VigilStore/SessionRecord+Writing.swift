// Writing one record into the document buffer, four ways:
//
// - unmodified and still raw: its source bytes, copied;
// - closed and still raw (restore's common case: `close()` changed only
//   `status`, `closedAt` and `closeReason`): spliced. The loader noted where
//   those values and the last member are (`PatchPoints`), so the record's
//   bytes are copied as they are, whitespace included, with the changed
//   values replaced where they stand and the missing members appended after
//   the last one, compactly. No scan: closing 100,000 records costs a copy;
// - otherwise modified but still raw (a `killedAt` set through
//   `subscript(field:)`, another typed member changed, a member removed):
//   patched. The record's members are walked in the source; typed members
//   are written from the properties, edited daemon members from their edits,
//   every other member is copied byte for byte, and edited or typed members
//   the source lacked are appended at the end. The daemon's members keep
//   their exact bytes; the whitespace between members is not kept;
// - built in memory (a new record, or one whose daemon members were set):
//   serialized compactly from its object.
//
// All rewrite paths follow the rule in SessionRecord+Fields.swift (and are
// tested to agree on the record's members): a set member is replaced in
// place (its first occurrence) or appended; a removed daemon member goes
// everywhere; a cleared optional removes a string member but leaves a null
// or non-string one alone.

import VigilJSON

extension SessionRecord {
    /// Appends the record's JSON object to `writer`.
    func write(into writer: inout JSONWriter) {
        switch body {
        case .raw(let source, let range) where !isModified:
            source.withBytes { buffer in
                writer.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[range]))
            }
        case .raw(let source, let range):
            if !writeSpliced(source: source, range: range, into: &writer) {
                writePatched(source: source, range: range, into: &writer)
            }
        case .object:
            writer.writeObject(object, style: .compact, indent: 0)
        }
    }

    /// The bytes the record's output will take, roughly, for reserving the
    /// document buffer once.
    var estimatedSize: Int {
        switch body {
        case .raw(_, let range) where !isModified: range.count
        case .raw(_, let range):
            // Patched: the typed members are written again, edits appended.
            range.count + 96 + (closedAt?.utf8.count ?? 0) + (closeReason?.utf8.count ?? 0) + 192 * fieldEdits.count
        case .object: 512
        }
    }

    /// The typed members a splice can write: the ones `close()` sets.
    static let spliceableKeys: UInt8 =
        1 << RecordKey.status.rawValue | 1 << RecordKey.closedAt.rawValue | 1 << RecordKey.closeReason.rawValue

    /// Writes a closed record by splicing: the record's bytes as they are
    /// (whitespace included), with each changed value among `status`,
    /// `closedAt` and `closeReason` replaced where it stands and the ones
    /// the record lacks appended after its last member, compactly. Writes
    /// nothing and returns false when the record needs `writePatched`:
    /// another typed member or a daemon member changed, a member would have
    /// to be removed, or the loader noted no patch points.
    private func writeSpliced(source: StoreSource, range: Range<Int>, into writer: inout JSONWriter) -> Bool {
        guard fieldEdits.isEmpty, changedKeys & ~Self.spliceableKeys == 0 else { return false }
        return source.withBytes { buffer in
            Self.splice(buffer, range: range, points: patchPoints, changed: changedKeys, values: typedValue, into: &writer)
        }
    }

    /// The splice itself, for any holder of a record's bytes and patch
    /// points (a `SessionRecord`, a `StoreIndex`): writes the record at
    /// `range` of `buffer` with each key of `changed` (among `status`,
    /// `closedAt` and `closeReason`) set to `values(key)`, replaced where
    /// it stands or appended after the last member. Writes nothing and
    /// returns false when the points are not noted or a string member
    /// would have to be removed (`values` nil).
    static func splice(_ buffer: UnsafeBufferPointer<UInt8>, range: Range<Int>, points: PatchPoints, changed: UInt8,
                       values: (RecordKey) -> String?, into writer: inout JSONWriter) -> Bool {
        guard points.membersEnd != 0, changed & ~spliceableKeys == 0 else { return false }
        // (No arrays: this runs once per closed record.)
        /// A value replaced where it stands.
        typealias Replacement = (start: Int, end: Int, key: RecordKey)
        var replacements: (Replacement?, Replacement?, Replacement?) = (nil, nil, nil)
        var appends: UInt8 = 0 // keys to append, one bit each
        func note(_ key: RecordKey, _ span: PatchPoints.Span) -> Replacement?? {
            guard changed & (1 << key.rawValue) != 0 else { return .some(nil) }
            let value = values(key)
            if !span.isPresent {
                if value != nil { appends |= 1 << key.rawValue }
                return .some(nil)
            }
            let start = range.lowerBound + Int(span.start)
            guard value != nil else {
                // A cleared string member goes (the scanning patcher removes
                // it); a null or non-string one read leniently stays.
                return buffer[start] == UInt8(ascii: "\"") ? .none : .some(nil)
            }
            return .some((start, range.lowerBound + Int(span.end), key))
        }
        guard let status = note(.status, points.status), let closedAt = note(.closedAt, points.closedAt),
              let closeReason = note(.closeReason, points.closeReason) else { return false }
        replacements = (status, closedAt, closeReason)
        // Source order (the members may stand in any order).
        func before(_ a: Replacement?, _ b: Replacement?) -> Bool { (a?.start ?? .max) < (b?.start ?? .max) }
        if before(replacements.1, replacements.0) { swap(&replacements.0, &replacements.1) }
        if before(replacements.2, replacements.1) { swap(&replacements.1, &replacements.2) }
        if before(replacements.1, replacements.0) { swap(&replacements.0, &replacements.1) }
        var cursor = range.lowerBound
        func replace(_ replacement: Replacement?) {
            guard let replacement else { return }
            writer.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[cursor..<replacement.start]))
            writer.writeRepeatedString(values(replacement.key)!)
            cursor = replacement.end
        }
        replace(replacements.0)
        replace(replacements.1)
        replace(replacements.2)
        let membersEnd = range.lowerBound + Int(points.membersEnd)
        writer.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[cursor..<membersEnd]))
        writeAppendedClose(closedAt: appends & (1 << RecordKey.closedAt.rawValue) != 0 ? values(.closedAt) : nil,
                           closeReason: appends & (1 << RecordKey.closeReason.rawValue) != 0 ? values(.closeReason) : nil,
                           into: &writer)
        writer.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[membersEnd..<range.upperBound]))
        return true
    }

    /// The members a close appends after a record's last one: `closedAt`
    /// and `closeReason`, each when given, compactly.
    static func writeAppendedClose(closedAt: String?, closeReason: String?, into writer: inout JSONWriter) {
        if let closedAt {
            writer.append(",\"closedAt\":")
            writer.writeRepeatedString(closedAt)
        }
        if let closeReason {
            writer.append(",\"closeReason\":")
            writer.writeRepeatedString(closeReason)
        }
    }

    /// Writes a modified raw record: members in source order with the typed
    /// ones replaced, then the edits and typed ones the source lacked.
    private func writePatched(source: StoreSource, range: Range<Int>, into writer: inout JSONWriter) {
        source.withBytes { buffer in
            var output = PatchOutput(edits: fieldEdits.count)
            writer.bytes.append(UInt8(ascii: "{"))
            Self.forEachMember(of: buffer, in: range) { key, value, scanner in
                patchMember(key: key, value: value, scanner: scanner, output: &output, into: &writer)
                return true
            }
            for (index, edit) in fieldEdits.enumerated() where !output.editsWritten[index] {
                guard let value = edit.value else { continue }
                output.member(edit.key, value, into: &writer)
            }
            for key in RecordKey.allCases where output.typedWritten & (1 << key.rawValue) == 0 {
                if let value = typedValue(key) { output.member(key.name, .string(value), into: &writer) }
            }
            writer.bytes.append(UInt8(ascii: "}"))
        }
    }

    /// One member of a patched record: a typed one written from its
    /// property, a cleared or removed one dropped, an edited one written from
    /// its edit (first occurrence), any other copied as it was.
    private func patchMember(key: JSONStringToken, value: Range<Int>, scanner: JSONScanner,
                             output: inout PatchOutput, into writer: inout JSONWriter) {
        let valueIsString = scanner.bytes[value.lowerBound] == UInt8(ascii: "\"")
        let known = RecordKey.match(key, in: scanner)
        let edit = known == nil && !fieldEdits.isEmpty
            ? fieldEdits.firstIndex { scanner.token(key, equalsText: $0.key) } : nil
        if let known, let typed = typedValue(known) {
            output.member(known.name, .string(typed), into: &writer)
            output.typedWritten |= 1 << known.rawValue
        } else if known != nil && valueIsString {
            // A cleared optional: the member goes.
        } else if let edit, fieldEdits[edit].value == nil {
            // A removed daemon member: every member with the key goes.
        } else if let edit, !output.editsWritten[edit], let edited = fieldEdits[edit].value {
            // A changed daemon member: its first occurrence, in place.
            output.member(fieldEdits[edit].key, edited, into: &writer)
            output.editsWritten[edit] = true
        } else {
            // The key with its quotes, and the value, as they were.
            output.separator(&writer)
            writer.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: scanner.bytes[(key.start - 1)...key.end]))
            writer.bytes.append(UInt8(ascii: ":"))
            writer.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: scanner.bytes[value]))
        }
    }

    /// Calls `body` with each member of the validated record at `range`
    /// (its key token, its value's bytes, a scanner over `buffer`) until it
    /// returns false.
    static func forEachMember(of buffer: UnsafeBufferPointer<UInt8>, in range: Range<Int>,
                              _ body: (JSONStringToken, Range<Int>, JSONScanner) -> Bool) {
        var scanner = JSONScanner(buffer, position: range.lowerBound)
        do throws(JSONSyntaxError) {
            guard try scanner.enterObject(depth: 3) else { return }
            repeat {
                let key = try scanner.memberKey()
                let valueStart = scanner.position
                try scanner.skipValue(depth: 3)
                guard body(key, valueStart..<scanner.position, scanner) else { return }
            } while try scanner.nextMember()
        } catch {
            preconditionFailure("a validated record failed to scan again: \(error.message)")
        }
    }
}

/// What a patched record's output has so far: whether a member was written
/// (for the commas), and which typed members and edits are written.
private struct PatchOutput {
    var first = true
    var typedWritten: UInt8 = 0 // one bit per RecordKey
    var editsWritten: [Bool]

    init(edits: Int) {
        editsWritten = [Bool](repeating: false, count: edits)
    }

    mutating func separator(_ writer: inout JSONWriter) {
        if !first { writer.bytes.append(UInt8(ascii: ",")) }
        first = false
    }

    /// `"key":value`, compactly, after a comma if needed.
    mutating func member(_ key: String, _ value: JSONValue, into writer: inout JSONWriter) {
        separator(&writer)
        writer.writeString(key)
        writer.bytes.append(UInt8(ascii: ":"))
        writer.write(value, style: .compact, indent: 0)
    }
}
