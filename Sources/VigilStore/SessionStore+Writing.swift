// Writing a store document into one byte buffer.
//
// A document read from a file is written back as the bytes it was read from,
// with each changed record's range replaced by its patched bytes (see
// SessionRecord+Writing.swift): every other byte, top-level members before
// `sessions` and after it, `version` as written, whitespace and the final
// newline or its absence, stays as it was. This is a splice of byte ranges,
// not a re-layout, so it costs one copy of the document.
//
// Only when the document's shape was changed in memory does Vigil lay out
// part of it itself:
// - records added, removed or reordered: the `sessions` array is rewritten,
//   one record per line, between the original bytes before and after it;
// - `otherFields` changed, or a document built in memory: the whole document
//   in Vigil's layout,
//
//     {"version": 1, "sessions": [
//     <record>,
//     <record>
//     ], "otherKey": <value>}
//
//   with a final newline. The empty store is exactly
//   `{"version": 1, "sessions": []}` and a newline.
//
// In every case an unmodified record is its original bytes, copied.

import VigilJSON
extension SessionStore {
    /// The document as UTF-8 bytes, ready to be written.
    public func serialized() -> [UInt8] {
        serializedWithLayout().bytes
    }

    /// A serialized document and where its parts landed, so a commit can
    /// re-point the records (and the layout) at the written bytes.
    struct Written {
        var bytes: [UInt8]
        var ranges: [Range<Int>]
        var sessions: Range<Int>
    }

    /// The document's bytes, by the cheapest path that keeps every
    /// unchanged byte (see the file comment).
    func serializedWithLayout() -> Written {
        guard let layout, otherFields == layout.otherFields else { return serializedInVigilLayout() }
        if recordsAreInPlace(layout) { return spliced(layout) }
        return withSessionsRewritten(layout)
    }

    /// Whether the records are the ones read, in their order (possibly
    /// modified, never added, removed or moved).
    func recordsAreInPlace(_ layout: DocumentLayout) -> Bool {
        guard records.count == layout.recordRanges.count else { return false }
        for index in records.indices {
            guard case .raw(let source, let range) = records[index].body, source === layout.source,
                  range == layout.recordRanges[index] else { return false }
        }
        return true
    }

    /// The source bytes with each modified record's range replaced.
    private func spliced(_ layout: DocumentLayout) -> Written {
        let source = layout.source
        var extra = 0
        for record in records where record.isModified { extra += record.estimatedSize - (record.sourceRange?.count ?? 0) }
        var writer = JSONWriter(reservingCapacity: source.count + extra)
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(records.count)
        var cursor = 0 // source bytes before this are in the output
        source.withBytes { buffer in
            for (index, record) in records.enumerated() {
                let range = layout.recordRanges[index]
                if record.isModified {
                    writer.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[cursor..<range.lowerBound]))
                    let start = writer.bytes.count
                    record.write(into: &writer)
                    ranges.append(start..<writer.bytes.count)
                    cursor = range.upperBound
                } else {
                    let shift = writer.bytes.count - cursor
                    ranges.append((range.lowerBound + shift)..<(range.upperBound + shift))
                }
            }
        }
        let sessions = layout.sessions.lowerBound..<(layout.sessions.upperBound + writer.bytes.count - cursor)
        source.withBytes { buffer in
            writer.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[cursor...]))
        }
        return Written(bytes: writer.bytes, ranges: ranges, sessions: sessions)
    }

    /// The document's bytes handed to `sink` in order, in pieces, without
    /// building the whole document: unchanged stretches of the source go out
    /// as they are (large ones straight from the loaded buffer), modified
    /// records are patched into one reused chunk buffer. The concatenation of
    /// the pieces is `serialized()`. Only the common splice (records in
    /// place) is streamed; a re-laid-out document goes out in one piece.
    /// - Parameter sink: takes the next piece; returns false to stop.
    /// - Returns: false if `sink` stopped it.
    func streamSerialized(_ sink: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        guard let layout, otherFields == layout.otherFields, recordsAreInPlace(layout) else {
            return serializedWithLayout().bytes.withUnsafeBytes { sink($0) }
        }
        return layout.source.withBytes { buffer -> Bool in
            var output = SplicedOutput(source: buffer)
            for index in records.indices where records[index].isModified {
                let range = layout.recordRanges[index]
                guard output.copySource(upTo: range.lowerBound, sink) else { return false }
                records[index].write(into: &output.writer)
                output.skipSource(to: range.upperBound)
                guard output.flushIfFull(sink) else { return false }
            }
            return output.finish(sink)
        }
    }
}

/// A document streamed as the source's bytes with some stretches replaced:
/// short stretches of the source and the replacements are gathered in one
/// reused chunk, long stretches are handed on straight from the source.
/// The concatenation of the pieces handed on is the document.
struct SplicedOutput {
    /// The chunk's size: big enough that writes are few, small enough not
    /// to weigh beside the store.
    static let chunkSize = 1 << 18

    let source: UnsafeBufferPointer<UInt8>
    /// The pending output; replacements are written into it.
    var writer = JSONWriter(reservingCapacity: chunkSize + 4096)
    /// Source bytes before this are handed on (or replaced).
    private var cursor = 0

    init(source: UnsafeBufferPointer<UInt8>) { self.source = source }

    /// Hands on the pending output.
    mutating func flush(_ sink: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        guard !writer.bytes.isEmpty else { return true }
        let going = writer.bytes.withUnsafeBytes { sink($0) }
        writer.bytes.removeAll(keepingCapacity: true)
        return going
    }

    /// Hands on the pending output once the chunk is full.
    mutating func flushIfFull(_ sink: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        writer.bytes.count < Self.chunkSize || flush(sink)
    }

    /// The source from the cursor to `end`: copied into the chunk when
    /// short, handed on directly (after what is pending) when long.
    mutating func copySource(upTo end: Int, _ sink: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        let piece = UnsafeBufferPointer(rebasing: source[cursor..<end])
        cursor = end
        if piece.count < Self.chunkSize / 4 {
            writer.bytes.append(contentsOf: piece)
            return flushIfFull(sink)
        }
        return flush(sink) && sink(UnsafeRawBufferPointer(piece))
    }

    /// Moves the cursor past source bytes that were replaced.
    mutating func skipSource(to end: Int) { cursor = end }

    /// The rest of the source, and everything pending.
    mutating func finish(_ sink: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        copySource(upTo: source.count, sink) && flush(sink)
    }
}

extension SessionStore {
    /// The source's bytes around the `sessions` array, the array laid out anew.
    private func withSessionsRewritten(_ layout: DocumentLayout) -> Written {
        let source = layout.source
        var writer = JSONWriter(reservingCapacity: source.count + estimatedRecordBytes)
        source.withBytes { buffer in
            writer.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[..<layout.sessions.lowerBound]))
        }
        let (ranges, sessions) = writeSessions(into: &writer)
        source.withBytes { buffer in
            writer.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[layout.sessions.upperBound...]))
        }
        return Written(bytes: writer.bytes, ranges: ranges, sessions: sessions)
    }

    /// The whole document in Vigil's layout.
    func serializedInVigilLayout() -> Written {
        var writer = JSONWriter(reservingCapacity: 64 + estimatedRecordBytes)
        writer.append("{\"version\": ")
        writer.appendUTF8(of: String(SessionStore.currentVersion))
        writer.append(", \"sessions\": ")
        let (ranges, sessions) = writeSessions(into: &writer)
        for member in otherFields.members where member.key != "version" && member.key != "sessions" {
            writer.append(", ")
            writer.writeString(member.key)
            writer.append(": ")
            writer.write(member.value, style: .compact, indent: 0)
        }
        writer.append("}\n")
        return Written(bytes: writer.bytes, ranges: ranges, sessions: sessions)
    }

    /// `[`, one record per line, `]`.
    private func writeSessions(into writer: inout JSONWriter) -> (ranges: [Range<Int>], sessions: Range<Int>) {
        let arrayStart = writer.bytes.count
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(records.count)
        writer.append("[")
        for (index, record) in records.enumerated() {
            writer.append(index == 0 ? "\n" : ",\n")
            let start = writer.bytes.count
            record.write(into: &writer)
            ranges.append(start..<writer.bytes.count)
        }
        writer.append(records.isEmpty ? "]" : "\n]")
        return (ranges, arrayStart..<writer.bytes.count)
    }

    private var estimatedRecordBytes: Int {
        var capacity = 0
        for record in records { capacity += record.estimatedSize + 2 }
        return capacity
    }

    /// After the bytes were written: every record points into them, none is
    /// modified, and the layout describes them.
    mutating func adopt(_ written: Written) {
        let source = StoreSource(written.bytes)
        var idIndex = RecordIDIndex(capacity: records.count)
        let ids = records.map(\.id)
        for index in records.indices {
            records[index].markWritten(source: source, range: written.ranges[index])
            _ = idIndex.insert(index, of: ids)
        }
        layout = DocumentLayout(source: source, sessions: written.sessions, recordRanges: written.ranges,
                                otherFields: otherFields, ids: ids, idIndex: idIndex)
    }
}
