// Writing a store document into one byte buffer.
//
// Layout (normalized, one record per line so a diff of two stores reads well):
//
//     {"version": 1, "sessions": [
//     <record>,
//     <record>
//     ], "otherKey": <value>}
//
// An unmodified record is its original bytes, copied; a modified one is
// patched (see SessionRecord+Writing.swift). The empty store is exactly
// `{"version": 1, "sessions": []}`. The file ends with a newline.

import VigilJSON
extension SessionStore {
    /// The document as UTF-8 bytes, ready to be written.
    public func serialized() -> [UInt8] {
        serializedWithRanges().bytes
    }

    /// The document's bytes and where each record landed in them (so a commit
    /// can re-point the records at the written bytes).
    func serializedWithRanges() -> (bytes: [UInt8], ranges: [Range<Int>]) {
        var capacity = 64
        for record in records { capacity += record.estimatedSize + 2 }
        var writer = JSONWriter(reservingCapacity: capacity)
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(records.count)

        writer.append("{\"version\": ")
        writer.appendUTF8(of: String(SessionStore.currentVersion))
        writer.append(", \"sessions\": [")
        for (index, record) in records.enumerated() {
            writer.append(index == 0 ? "\n" : ",\n")
            let start = writer.bytes.count
            record.write(into: &writer)
            ranges.append(start..<writer.bytes.count)
        }
        writer.append(records.isEmpty ? "]" : "\n]")
        for member in otherFields.members where member.key != "version" && member.key != "sessions" {
            writer.append(", ")
            writer.writeString(member.key)
            writer.append(": ")
            writer.write(member.value, style: .compact, indent: 0)
        }
        writer.append("}\n")
        return (writer.bytes, ranges)
    }

    /// After the bytes were written: every record points into them and is
    /// no longer modified.
    mutating func adopt(written bytes: [UInt8], ranges: [Range<Int>]) {
        let source = StoreSource(bytes)
        for index in records.indices {
            records[index].markWritten(source: source, range: ranges[index])
        }
    }
}
