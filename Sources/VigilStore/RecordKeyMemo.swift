// The keys of the record read before, for the reader's next record.
//
// The records of a store were mostly written by one program from objects
// built alike (botmux's JSON.stringify, Vigil's own writer), so record
// after record names the same members in the same order. Each member's key
// costs a string scan, three white space checks, the colon and a lookup
// among the known keys: about a hundred instructions, eight times a record.
// The memo keeps, for each member position of the record before, the raw
// bytes from its key's opening quote to its value (`"backend": ` with the
// white space as written, up to 24 bytes) and what the key turned out to
// be. Where the next record has exactly those bytes at that position, the
// key is taken from the memo; anything else is read the ordinary way and
// remembered.
//
// Exactly those bytes mean exactly the same reading: the bytes were a key
// without escapes, white space, a colon and white space the last time, so
// they are the same now, and the cursor lands where the ordinary reading
// would put it (on the value, after any further white space).

import VigilJSON

/// The key of a member as the reader needs it: its token, the known record
/// key it is (if any) and whether it is `killedAt`.
struct MemberKey {
    let token: JSONStringToken
    let known: RecordKey?
    let isKilledAt: Bool
}

/// Up to `capacity` member positions of the record read before.
struct RecordKeyMemo {
    /// Member positions remembered; later members are read the ordinary way.
    static let capacity = 16
    /// The longest remembered key with its quotes, colon and white space.
    static let longest = 24

    private struct Slot {
        /// The bytes, little-endian, three words; `masks` keep only `length` bytes.
        var words: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var masks: (UInt64, UInt64, UInt64) = (0, 0, 0)
        /// 0: nothing remembered.
        var length = 0
        /// The key's byte count (between its quotes).
        var keyLength = 0
        var known: RecordKey?
        var isKilledAt = false
    }

    private var slots = [Slot](repeating: Slot(), count: capacity)

    /// The key of the member at `member` when the bytes at the cursor (white
    /// space skipped) are the ones remembered there: the cursor is then on
    /// the value, as after `JSONScanner.memberKey()`. Nil otherwise (the
    /// cursor is then after the white space, where the key should start).
    @inline(__always)
    func key(at member: Int, in scanner: inout JSONScanner) -> MemberKey? {
        scanner.skipWhitespace()
        guard member < Self.capacity else { return nil }
        let slot = slots[member]
        let start = scanner.position
        guard slot.length != 0, start + Self.longest <= scanner.bytes.count, let base = scanner.bytes.baseAddress else { return nil }
        let raw = UnsafeRawPointer(base + start)
        func word(_ offset: Int) -> UInt64 { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
        let difference = ((word(0) ^ slot.words.0) & slot.masks.0) | ((word(8) ^ slot.words.1) & slot.masks.1)
            | ((word(16) ^ slot.words.2) & slot.masks.2)
        guard difference == 0 else { return nil }
        scanner.position = start + slot.length
        scanner.skipWhitespace()
        return MemberKey(token: JSONStringToken(start: start + 1, end: start + 1 + slot.keyLength, hasEscapes: false),
                         known: slot.known, isKilledAt: slot.isKilledAt)
    }

    /// Remembers the member at `member`: its key `key`, read from
    /// `keyStart` (the opening quote) to the cursor (on the value). A key
    /// with escapes, or longer than `longest` bytes with its white space,
    /// is not remembered (the position is then read the ordinary way).
    mutating func remember(_ key: MemberKey, at member: Int, from keyStart: Int, in scanner: JSONScanner) {
        guard member < Self.capacity else { return }
        let length = scanner.position - keyStart
        guard !key.token.hasEscapes, length <= Self.longest, let base = scanner.bytes.baseAddress else {
            slots[member].length = 0
            return
        }
        var bytes: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &bytes) { UnsafeMutableRawBufferPointer(rebasing: $0[..<length]).copyMemory(from: UnsafeRawBufferPointer(start: base + keyStart, count: length)) }
        func mask(_ word: Int) -> UInt64 {
            let kept = min(8, max(0, length - 8 * word))
            return kept == 8 ? .max : (UInt64(1) << (8 * kept)) - 1
        }
        slots[member] = Slot(words: (UInt64(littleEndian: bytes.0), UInt64(littleEndian: bytes.1), UInt64(littleEndian: bytes.2)),
                             masks: (mask(0), mask(1), mask(2)), length: length, keyLength: key.token.end - key.token.start,
                             known: key.known, isKilledAt: key.isKilledAt)
    }
}
