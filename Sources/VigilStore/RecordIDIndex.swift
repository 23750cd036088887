// Record ids to positions for a loaded document, in a fraction of the memory
// of a `[String: Int]`: an open-addressing table of 32-bit positions, each
// beside 32 bits of its id's hash, SipHash-1-3 under a key drawn from the
// standard library's per-process random seed (so a hostile store cannot pick
// colliding ids). The table holds no ids: it asks the document for the id
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
    /// Calls `body` with `idHash` of the ids at positions 0 to `count - 1`,
    /// in order (one walk over records held in runs, rather than a look-up
    /// per position).
    func forEachIDHash(upTo count: Int, _ body: (UInt32) -> Void)
}

extension RecordIDs {
    func idHash(at position: Int) -> UInt32 { withIDBytes(at: position) { RecordIDIndex.hash($0) } }

    func forEachIDHash(upTo count: Int, _ body: (UInt32) -> Void) {
        for position in 0..<count { body(idHash(at: position)) }
    }
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
    private var slots: IDSlots
    /// Positions inserted so far.
    private(set) var count = 0

    /// An index with room for `count` ids, its table in `arena`'s arena
    /// when it has room (see `StoreSource`).
    init(capacity count: Int, arena: StoreSource? = nil) {
        var size = 16
        while size < 2 * count { size *= 2 }
        slots = IDSlots(count: size, arena: arena)
    }

    /// Whether the table is in `source`'s arena (tests).
    func tableInArena(of source: StoreSource) -> Bool { slots.inArena(of: source) }

    /// Indexes the id at `position` of `ids` (positions are inserted in
    /// order, each once). Returns the position of an earlier record with the
    /// same id (the new one is then not indexed), or nil.
    mutating func insert<IDs: RecordIDs>(_ position: Int, of ids: IDs) -> Int? {
        insert(position, hash: ids.idHash(at: position), of: ids)
    }

    /// Indexes the ids at positions `0..<count` of `ids`, as `insert` one by
    /// one would. Returns the first position (in that order) whose id an
    /// earlier record has, with that earlier record's position, or nil. After
    /// a duplicate the table is not to be used: filled in slot order, it may
    /// hold positions after the duplicate and lack earlier ones.
    ///
    /// A big table is filled in the order of its slots rather than of the
    /// positions (a stable counting sort on the top bits of each id's home
    /// slot), so that its writes stay within a few kilobytes at a time
    /// instead of missing the cache once per id: at 100,000 ids (a 2 MB
    /// table) 7.5 ms in position order. Records with one id share a home
    /// slot, so they still go in position order, and the earliest of them
    /// is the one kept.
    mutating func insertAll<IDs: RecordIDs>(_ count: Int, of ids: IDs) -> (position: Int, first: Int)? {
        guard count >= Self.bucketedFrom else {
            for position in 0..<count {
                if let first = insert(position, of: ids) { return (position, first) }
            }
            return nil
        }
        let mask = slots.count - 1
        let shift = max(0, (mask + 1).trailingZeroBitCount - Self.bucketBits)
        var hashes = [UInt32](repeating: 0, count: count)
        var starts = [Int](repeating: 0, count: (1 << Self.bucketBits) + 1)
        var position = 0
        ids.forEachIDHash(upTo: count) { hash in
            hashes[position] = hash
            starts[(Int(hash) & mask) >> shift + 1] += 1
            position += 1
        }
        for bucket in 1..<starts.count { starts[bucket] += starts[bucket - 1] }
        var order = [UInt32](repeating: 0, count: count)
        for position in 0..<count {
            let bucket = (Int(hashes[position]) & mask) >> shift
            order[starts[bucket]] = UInt32(truncatingIfNeeded: position)
            starts[bucket] += 1
        }
        var duplicate: (position: Int, first: Int)?
        for next in order {
            let position = Int(next)
            if let first = insert(position, hash: hashes[position], of: ids), position < (duplicate?.position ?? Int.max) {
                duplicate = (position, first)
            }
        }
        return duplicate
    }

    /// Tables of this many ids or more are filled in slot order. (From
    /// 32,768 before: at 10,000 ids, a 256 KB table written in position
    /// order still missed the cache, 0.1 to 0.25 ms of a 10,000-record
    /// restore in interleaved runs.)
    static let bucketedFrom = 4_096
    /// Buckets of that order: 2^bucketBits ranges of slots.
    private static let bucketBits = 10

    /// `insert` with the id's hash at hand.
    private mutating func insert<IDs: RecordIDs>(_ position: Int, hash: UInt32, of ids: IDs) -> Int? {
        precondition(2 * (count + 1) <= slots.count, "RecordIDIndex: sized for fewer ids")
        if !isKnownUniquelyReferenced(&slots) { slots = slots.copy() }
        let slots = self.slots.base
        let mask = self.slots.count - 1
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
        let slots = self.slots.base
        let mask = self.slots.count - 1
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

    /// An id's hash: 32 bits of SipHash-1-3 over its UTF-8 bytes, keyed
    /// with a key drawn from the standard library's per-process random seed
    /// (the same for every document of this process, unknown to a store's
    /// author). The same function as `Hasher`, without its buffering:
    /// about 210 instructions per 18-byte id against 350 (callgrind, the
    /// call included), and the reader hashes every id.
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        UInt32(truncatingIfNeeded: SipHash13.hash(bytes, key: idHashKey))
    }

    private static func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        a.count == b.count && (a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0)
    }
}

/// The key of `RecordIDIndex.hash`: two words of the standard library's
/// seeded hasher, so they change from process to process as its seed does
/// (and stay fixed under SWIFT_DETERMINISTIC_HASHING, as `Hasher` does).
/// The slots of a `RecordIDIndex`: in a source's arena (zero as mapped: its
/// pages are fresh and no piece is handed out twice) or malloc'd and zeroed.
/// Written while the table is built, then only read.
final class IDSlots: @unchecked Sendable {
    private let memory: IndexMemory<UInt64>
    var base: UnsafeMutablePointer<UInt64> { memory.base }
    let count: Int

    init(count: Int, arena: StoreSource?) {
        self.count = count
        memory = IndexMemory(count: count, preferring: arena)
        if memory.arena == nil { memory.base.initialize(repeating: 0, count: count) }
    }

    deinit { memory.release() }

    /// The same slots in malloc'd memory.
    func copy() -> IDSlots {
        let slots = IDSlots(count: count, arena: nil)
        slots.base.update(from: base, count: count)
        return slots
    }

    func inArena(of source: StoreSource) -> Bool { source.arenaHolds(base) }
}

private let idHashKey: (UInt64, UInt64) = {
    var first = Hasher()
    first.combine(0x7669_6769_6C5F_6B30 as UInt64)
    var second = Hasher()
    second.combine(0x7669_6769_6C5F_6B31 as UInt64)
    return (UInt64(bitPattern: Int64(first.finalize())), UInt64(bitPattern: Int64(second.finalize())))
}()

/// SipHash-1-3 (Aumasson and Bernstein's SipHash with one compression and
/// three finalization rounds, the variant the standard library's `Hasher`
/// uses), over a byte buffer in one call.
enum SipHash13 {
    static func hash(_ bytes: UnsafeRawBufferPointer, key: (UInt64, UInt64)) -> UInt64 {
        var v0 = key.0 ^ 0x736F_6D65_7073_6575
        var v1 = key.1 ^ 0x646F_7261_6E64_6F6D
        var v2 = key.0 ^ 0x6C79_6765_6E65_7261
        var v3 = key.1 ^ 0x7465_6462_7974_6573
        @inline(__always) func round() {
            v0 &+= v1; v1 = v1.rotated(13); v1 ^= v0; v0 = v0.rotated(32)
            v2 &+= v3; v3 = v3.rotated(16); v3 ^= v2
            v0 &+= v3; v3 = v3.rotated(21); v3 ^= v0
            v2 &+= v1; v1 = v1.rotated(17); v1 ^= v2; v2 = v2.rotated(32)
        }
        let count = bytes.count
        var offset = 0
        while offset + 8 <= count {
            let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            v3 ^= word
            round()
            v0 ^= word
            offset += 8
        }
        // The last 0 to 7 bytes, and the length's low byte on top. After a
        // whole word they are the top of the word that ends the buffer, read
        // in one load (an id of 36 bytes: one load instead of four bytes).
        var last = UInt64(truncatingIfNeeded: count) << 56
        let rest = count - offset
        if rest > 0 && count >= 8 {
            let ending = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self))
            last |= ending &>> UInt64(64 - 8 * rest)
        } else {
            var shift: UInt64 = 0
            while offset < count {
                last |= UInt64(bytes[offset]) << shift
                shift += 8
                offset += 1
            }
        }
        v3 ^= last
        round()
        v0 ^= last
        v2 ^= 0xFF
        round()
        round()
        round()
        return v0 ^ v1 ^ v2 ^ v3
    }
}

extension UInt64 {
    /// Rotated left by `count` bits.
    @inline(__always) fileprivate func rotated(_ count: UInt64) -> UInt64 {
        (self << count) | (self >> (64 - count))
    }
}
