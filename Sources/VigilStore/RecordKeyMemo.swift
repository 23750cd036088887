// The keys of the record read before, for the reader's next record.
//
// The records of a store were mostly written by one program from objects
// built alike (botmux's JSON.stringify, Vigil's own writer), so record
// after record names the same members in the same order. Each member's key
// costs a string scan, three white space checks, the colon and a lookup
// among the known keys: about a hundred instructions, eight times a record
// and again for the members of an object inside it. The memo keeps, for the
// k-th key of the record before (counted in document order, the keys of
// objects in its members included), the raw bytes from its opening quote
// to its value (`"backend": ` with the white space as written, up to 24
// bytes) and what the key turned out to be. Where the k-th key of the next
// record has exactly those bytes, it is taken from the memo; anything else
// is read the ordinary way and remembered. (What a key is, known record key
// or kill marker, depends on its bytes alone, so a key remembered at one
// depth serves at another.)
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
    /// Keys remembered per record (a record's members and the members of
    /// objects in them, in document order); later ones are read the
    /// ordinary way.
    static let capacity = 32
    /// The longest remembered key with its quotes, colon and white space.
    static let longest = 24

    /// Per member position, `stride` words: the bytes (three words, little-
    /// endian), the masks that keep only `length` of them (three words),
    /// and the rest packed (`Packed`). Flat, so that a look reads only the
    /// words it compares.
    private static let stride = 7
    private var words = [UInt64](repeating: 0, count: capacity * stride)
    /// False: nothing is remembered, every key is read the ordinary way (for
    /// tests that compare the two readings).
    private let remembering: Bool

    init(remembering: Bool = true) { self.remembering = remembering }

    /// The seventh word of a position: `length` (0: nothing remembered),
    /// the key's byte count, the known key's raw value + 1 (0: none) and
    /// whether it is the kill marker, a byte each.
    private enum Packed {
        static func make(length: Int, keyLength: Int, known: RecordKey?, isKilledAt: Bool) -> UInt64 {
            UInt64(length) | UInt64(keyLength) << 8 | UInt64(known.map { $0.rawValue + 1 } ?? 0) << 16 | (isKilledAt ? 1 << 24 : 0)
        }
    }

    /// The key of the member at `member` when the bytes at the cursor (white
    /// space skipped) are the ones remembered there: the cursor is then on
    /// the value, as after `JSONScanner.memberKey()`. Nil otherwise (the
    /// cursor is then after the white space, where the key should start).
    @inline(__always)
    func key(at member: Int, in scanner: inout JSONScanner) -> MemberKey? {
        scanner.skipWhitespace()
        let start = scanner.position
        guard member < Self.capacity, start + Self.longest <= scanner.bytes.count, let base = scanner.bytes.baseAddress else { return nil }
        return words.withUnsafeBufferPointer { slot -> MemberKey? in
            let at = member &* Self.stride
            let packed = slot[at &+ 6]
            let length = Int(packed & 0xFF)
            guard length != 0 else { return nil }
            let raw = UnsafeRawPointer(base + start)
            func word(_ offset: Int) -> UInt64 { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
            let difference = ((word(0) ^ slot[at]) & slot[at &+ 3]) | ((word(8) ^ slot[at &+ 1]) & slot[at &+ 4])
                | ((word(16) ^ slot[at &+ 2]) & slot[at &+ 5])
            guard difference == 0 else { return nil }
            scanner.position = start &+ length
            scanner.skipWhitespace()
            let keyLength = Int(packed >> 8 & 0xFF)
            let known = Int(packed >> 16 & 0xFF)
            return MemberKey(token: JSONStringToken(start: start &+ 1, end: start &+ 1 &+ keyLength, hasEscapes: false),
                             known: known == 0 ? nil : RecordKey(rawValue: known - 1), isKilledAt: packed >> 24 & 1 != 0)
        }
    }

    /// Remembers the member at `member`: its key `key`, read from
    /// `keyStart` (the opening quote) to the cursor (on the value). A key
    /// with escapes, or longer than `longest` bytes with its white space,
    /// is not remembered (the position is then read the ordinary way).
    mutating func remember(_ key: MemberKey, at member: Int, from keyStart: Int, in scanner: JSONScanner) {
        guard remembering, member < Self.capacity else { return }
        let at = member * Self.stride
        let length = scanner.position - keyStart
        guard !key.token.hasEscapes, length <= Self.longest, let base = scanner.bytes.baseAddress else {
            words[at + 6] = 0
            return
        }
        var bytes: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &bytes) {
            UnsafeMutableRawBufferPointer(rebasing: $0[..<length]).copyMemory(from: UnsafeRawBufferPointer(start: base + keyStart, count: length))
        }
        func mask(_ word: Int) -> UInt64 {
            let kept = min(8, max(0, length - 8 * word))
            return kept == 8 ? .max : (UInt64(1) << (8 * kept)) - 1
        }
        words[at] = UInt64(littleEndian: bytes.0)
        words[at + 1] = UInt64(littleEndian: bytes.1)
        words[at + 2] = UInt64(littleEndian: bytes.2)
        words[at + 3] = mask(0)
        words[at + 4] = mask(1)
        words[at + 5] = mask(2)
        words[at + 6] = Packed.make(length: length, keyLength: key.token.end - key.token.start, known: key.known, isKilledAt: key.isKilledAt)
    }
}
