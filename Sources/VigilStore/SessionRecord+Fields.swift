// The record as a whole object, and its daemon members one by one.
//
// A record still in its loaded form (`Body.raw`) never builds a tree just to
// answer one member: reading `record[field: "killedAt"]` scans the record's
// bytes for that member and parses only its value, and setting a daemon
// member records a `FieldEdit` that the commit's patcher applies in place,
// so the record stays on the byte-preserving write path. Only `object` (the
// whole thing) parses the record, on every access.
//
// One rule for both paths, mirrored by the patcher: setting a value updates
// the first member with that key in place or appends it at the end; setting
// nil removes every member with that key; typed members the source lacks are
// appended after the daemon members.

public import VigilJSON
extension SessionRecord {
    /// The record's full object as it would be written now: the daemon's
    /// members in their order with the typed properties written over theirs.
    ///
    /// For a record still in its loaded form this parses the record's bytes
    /// on every access; read it once, not in a loop (for one member use
    /// `subscript(field:)`, which does not build the tree).
    public var object: JSONObject {
        applyingTypedFields(to: baseObject)
    }

    /// The value of member `key` as it would be written now, or nil if the
    /// record has no such member.
    ///
    /// Setting is for the daemon's own members (Vigil's markers such as
    /// `killedAt` included): it updates the first member named `key` in
    /// place, appends it if missing, removes it when set to nil, and marks
    /// the record modified. The record's other members keep their bytes.
    /// - Precondition: `key` is not one of `reservedKeys` when setting (use
    ///   the typed properties; they are validated).
    public subscript(field key: String) -> JSONValue? {
        get {
            if let known = RecordKey.allCases.first(where: { $0.name == key }) {
                if let value = typedValue(known) { return .string(value) }
                // Unset: a string member would be removed on write; a null
                // or non-string one (read leniently) stays.
                let stored = storedMember(key)
                if case .string = stored { return nil }
                return stored
            }
            if let edit = fieldEdits.first(where: { $0.key == key }) { return edit.value }
            return storedMember(key)
        }
        set {
            precondition(!Self.reservedKeys.contains(key), "set \"\(key)\" through its typed property")
            switch body {
            case .object(var object):
                body = .object([:]) // keep `object` uniquely referenced
                object[key] = newValue
                body = .object(object)
            case .raw:
                if let index = fieldEdits.firstIndex(where: { $0.key == key }) {
                    fieldEdits[index].value = newValue
                } else {
                    fieldEdits.append(FieldEdit(key: key, value: newValue))
                }
            }
            isModified = true
        }
    }

    /// The first member named `key` as stored (raw bytes or object), before
    /// pending edits and typed properties.
    func storedMember(_ key: String) -> JSONValue? {
        switch body {
        case .object(let object):
            return object[key]
        case .raw(let source, let range):
            if !rawMayHoldKilledAt && key == MarkerKey.killedAt.rawValue { return nil }
            return source.withBytes { buffer in
                var found: JSONValue?
                Self.forEachMember(of: buffer, in: range) { token, value, scanner in
                    guard scanner.token(token, equalsText: key) else { return true }
                    var reader = JSONScanner(buffer, position: value.lowerBound)
                    do throws(JSONSyntaxError) {
                        found = try reader.parseValue(depth: 3)
                    } catch {
                        preconditionFailure("a validated record failed to parse again: \(error.message)")
                    }
                    return false
                }
                return found
            }
        }
    }

    /// The daemon's object with pending edits applied (typed properties not
    /// yet written over it), parsed if still raw.
    var baseObject: JSONObject {
        switch body {
        case .object(let object):
            return object
        case .raw(let source, let range):
            var object = source.withBytes { buffer in
                var scanner = JSONScanner(buffer, position: range.lowerBound)
                do throws(JSONSyntaxError) {
                    return try scanner.parseObject(depth: 3)
                } catch {
                    preconditionFailure("a validated record failed to parse again: \(error.message)")
                }
            }
            for edit in fieldEdits { object[edit.key] = edit.value }
            return object
        }
    }

    /// Writes the typed properties over `base`: replaced in place, appended
    /// if new. An optional that was cleared removes a string member, but
    /// leaves alone a null or a non-string member it never read.
    func applyingTypedFields(to base: JSONObject) -> JSONObject {
        var object = base
        for key in RecordKey.allCases {
            if let value = typedValue(key) {
                object[key.name] = .string(value)
            } else if case .string = object[key.name] {
                object[key.name] = nil
            }
        }
        return object
    }
}
