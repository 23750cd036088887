// Record ids to positions for a loaded document, in a fraction of the memory
// of a `[String: Int]`: an open-addressing table of 32-bit positions, each
// beside 32 bits of its id's hash, hashed with the standard library's seeded
// hasher (so a hostile store cannot pick colliding ids). The table holds no ids: it asks the document for the id
// bytes of a position (`RecordIDs`), so the ids live once, wherever the
// document keeps them (Strings shared with the records, or tokens in the
// source bytes).
//
// Ids are compared as UTF-8 bytes, that is code point by code point, as
// botmux's JavaScript compares them: "é" written precomposed and "é" written
// as "e" and a combining accent are two different ids.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a `RecordIDIndex` asks of a document: the UTF-8 bytes of the id at
/// each position.
protocol RecordIDs {
    /// Calls `body` with the bytes of the id at `position`.
    func withIDBytes<R>(at position: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R
    /// `RecordIDIndex.hash` of the id at `position` (a document may have
    /// it at hand: the store index hashes each id as it reads it).
    func idHash(at position: Int) -> UInt32
}

extension RecordIDs {
    func idHash(at position: Int) -> UInt32 { withIDBytes(at: position) { RecordIDIndex.hash($0) } }
}

extension Array: RecordIDs where Element == String {
    func withIDBytes<R>(at position: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        self[position].withUTF8Bytes(body)
    }
}

extension String {
    /// Calls `body` with the string's UTF-8 bytes (copied out only for a
    /// bridged string without contiguous storage).
    func withUTF8Bytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        if let result = utf8.withContiguousStorageIfAvailable({ body(UnsafeRawBufferPointer($0)) }) { return result }
        return Array(utf8).withUnsafeBytes(body)
    }
}

/// The positions of a document's record ids (the first record with each id).
struct RecordIDIndex: Sendable {
    /// Per slot: the id's 32-bit hash, then position + 1 in the lower 32
    /// bits (0: empty). The hash spares most comparisons of ids that merely
    /// share a slot (each a read of another record's bytes).
    /// A power of two in size, at most half full.
    private var slots: [UInt64] = []
    /// Positions inserted so far.
    private(set) var count = 0

    /// An index with room for `count` ids.
    init(capacity count: Int) {
        var size = 16
        while size < 2 * count { size *= 2 }
        slots = [UInt64](repeating: 0, count: size)
    }

    /// Indexes the id at `position` of `ids` (positions are inserted in
    /// order, each once). Returns the position of an earlier record with the
    /// same id (the new one is then not indexed), or nil.
    mutating func insert<IDs: RecordIDs>(_ position: Int, of ids: IDs) -> Int? {
        precondition(2 * (count + 1) <= slots.count, "RecordIDIndex: sized for fewer ids")
        let mask = slots.count - 1
        let hash = ids.idHash(at: position)
        let tag = UInt64(hash) << 32
        var slot = Int(hash) & mask
        while slots[slot] != 0 {
            let entry = slots[slot]
            let other = Int(entry & 0xFFFF_FFFF) - 1
            if entry & 0xFFFF_FFFF_0000_0000 == tag, ids.withIDBytes(at: other, { a in ids.withIDBytes(at: position) { Self.equal(a, $0) } }) {
                return other
            }
            slot = (slot + 1) & mask
        }
        slots[slot] = tag | UInt64(position + 1)
        count += 1
        return nil
    }

    /// The position of the first record with `id` among `ids`, if any.
    func position<IDs: RecordIDs>(of id: String, in ids: IDs) -> Int? {
        guard !slots.isEmpty else { return nil }
        let mask = slots.count - 1
        return id.withUTF8Bytes { id -> Int? in
            let hash = Self.hash(id)
            let tag = UInt64(hash) << 32
            var slot = Int(hash) & mask
            while slots[slot] != 0 {
                let entry = slots[slot]
                let position = Int(entry & 0xFFFF_FFFF) - 1
                if entry & 0xFFFF_FFFF_0000_0000 == tag, ids.withIDBytes(at: position, { Self.equal($0, id) }) { return position }
                slot = (slot + 1) & mask
            }
            return nil
        }
    }

    /// An id's hash: 32 bits of the standard library's seeded hasher over
    /// its UTF-8 bytes (the same for every document of this process).
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var hasher = Hasher()
        hasher.combine(bytes: bytes)
        return UInt32(truncatingIfNeeded: hasher.finalize())
    }

    private static func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        a.count == b.count && (a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0)
    }
}
