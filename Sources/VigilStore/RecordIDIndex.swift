// Record ids to positions for a loaded document, in a quarter of the memory
// of a `[String: Int]`: an open-addressing table of 32-bit positions, hashed
// with the standard library's seeded hasher (so a hostile store cannot pick
// colliding ids), the ids themselves kept once in an array that shares their
// storage with the records.

/// The positions of a document's record ids (the first record with each id).
struct RecordIDIndex: Sendable {
    /// The ids in document order.
    private(set) var ids: [String] = []
    /// Position + 1 of an id, 0 for an empty slot; a power of two in size,
    /// at most half full.
    private var slots: [UInt32] = []

    /// An index with room for `count` ids without growing.
    init(capacity count: Int) {
        ids.reserveCapacity(count)
        var size = 16
        while size < 2 * count { size *= 2 }
        slots = [UInt32](repeating: 0, count: size)
    }

    /// Appends the next record's id. Returns the position of an earlier
    /// record with the same id (the new one is then not indexed), or nil.
    mutating func append(_ id: String) -> Int? {
        if 2 * (ids.count + 1) > slots.count { grow() }
        let position = ids.count
        ids.append(id)
        var slot = Self.hash(id) & (slots.count - 1)
        while slots[slot] != 0 {
            let other = Int(slots[slot]) - 1
            if ids[other] == id { return other }
            slot = (slot + 1) & (slots.count - 1)
        }
        slots[slot] = UInt32(position + 1)
        return nil
    }

    /// The position of the first record with `id`, if any.
    func position(of id: String) -> Int? {
        guard !slots.isEmpty else { return nil }
        var slot = Self.hash(id) & (slots.count - 1)
        while slots[slot] != 0 {
            let position = Int(slots[slot]) - 1
            if ids[position] == id { return position }
            slot = (slot + 1) & (slots.count - 1)
        }
        return nil
    }

    private mutating func grow() {
        let kept = ids
        self = RecordIDIndex(capacity: max(16, kept.count * 2))
        for id in kept { _ = append(id) }
    }

    private static func hash(_ id: String) -> Int {
        var hasher = Hasher()
        hasher.combine(id)
        return hasher.finalize()
    }
}
