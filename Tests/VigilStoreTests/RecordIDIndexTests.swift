// The id table's hash is SipHash-1-3 under a per-process key: checked here
// against published SipHash-1-3 vectors (key bytes 00..0f, message bytes
// 0, 1, ..., n-1; the values of Rust's libcore `test_siphash_1_3`), and the
// table against ids that share a slot.

import Testing
@testable import VigilStore

@Suite struct RecordIDIndexTests {
    @Test("SipHash13 gives the published SipHash-1-3 values")
    func vectors() {
        let key: (UInt64, UInt64) = (0x0706_0504_0302_0100, 0x0F0E_0D0C_0B0A_0908)
        let bytes = (0..<64).map { UInt8($0) }
        for (count, expected) in [(0, 0xABAC_0158_050F_C4DC as UInt64), (1, 0xC9F4_9BF3_7D57_CA93), (15, 0xD320_D86D_2A51_9956)] {
            let hash = bytes.withUnsafeBytes { SipHash13.hash(UnsafeRawBufferPointer(rebasing: $0[..<count]), key: key) }
            #expect(hash == expected, "\(count) bytes")
        }
    }

    @Test("SipHash13 agrees with a byte-at-a-time SipHash-1-3 at every length from 0 to 80 bytes")
    func everyLength() {
        let key: (UInt64, UInt64) = (0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210)
        let bytes = (0..<80).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        for count in 0...80 {
            let message = Array(bytes[..<count])
            let hash = message.withUnsafeBytes { SipHash13.hash($0, key: key) }
            #expect(hash == Self.referenceSipHash13(message, key: key), "\(count) bytes")
        }
    }

    /// SipHash-1-3 as the paper states it: the message in little-endian
    /// words taken byte by byte, the last one padded with the length.
    static func referenceSipHash13(_ message: [UInt8], key: (UInt64, UInt64)) -> UInt64 {
        var v = [key.0 ^ 0x736F_6D65_7073_6575, key.1 ^ 0x646F_7261_6E64_6F6D,
                 key.0 ^ 0x6C79_6765_6E65_7261, key.1 ^ 0x7465_6462_7974_6573]
        func rotl(_ x: UInt64, _ b: UInt64) -> UInt64 { (x << b) | (x >> (64 - b)) }
        func round() {
            v[0] &+= v[1]; v[1] = rotl(v[1], 13); v[1] ^= v[0]; v[0] = rotl(v[0], 32)
            v[2] &+= v[3]; v[3] = rotl(v[3], 16); v[3] ^= v[2]
            v[0] &+= v[3]; v[3] = rotl(v[3], 21); v[3] ^= v[0]
            v[2] &+= v[1]; v[1] = rotl(v[1], 17); v[1] ^= v[2]; v[2] = rotl(v[2], 32)
        }
        var padded = message
        while padded.count % 8 != 7 { padded.append(0) }
        padded.append(UInt8(truncatingIfNeeded: message.count))
        for start in stride(from: 0, to: padded.count, by: 8) {
            let word = (0..<8).reduce(UInt64(0)) { $0 | UInt64(padded[start + $1]) << (8 * UInt64($1)) }
            v[3] ^= word
            round()
            v[0] ^= word
        }
        v[2] ^= 0xFF
        round(); round(); round()
        return v[0] ^ v[1] ^ v[2] ^ v[3]
    }

    @Test("every id is found at its position, and a second record with an id is reported with the first's position")
    func table() {
        // Positions 4,000 on repeat the ids of 0 to 999.
        let ids = (0..<5_000).map { "sess-\($0 % 4_000)-\(String(repeating: "x", count: $0 % 4_000 % 17))" }
        var index = RecordIDIndex(capacity: ids.count)
        var duplicates: [Int: Int] = [:]
        for position in ids.indices {
            if let first = index.insert(position, of: ids) { duplicates[position] = first }
        }
        var firstSeen: [String: Int] = [:]
        var expected: [Int: Int] = [:]
        for (position, id) in ids.enumerated() {
            if let first = firstSeen[id] { expected[position] = first } else { firstSeen[id] = position }
        }
        #expect(expected.count == 1_000)
        #expect(duplicates == expected)
        for (id, position) in firstSeen {
            #expect(index.position(of: id, in: ids) == position)
        }
        #expect(index.position(of: "sess-none", in: ids) == nil)
    }

    @Test("a copy of a table is a value: inserting into it leaves the original as it was")
    func copiesAreValues() {
        let ids = (0..<40).map { "id-\($0)" }
        var original = RecordIDIndex(capacity: ids.count)
        for position in 0..<20 { #expect(original.insert(position, of: ids) == nil) }
        var copy = original
        for position in 20..<40 { #expect(copy.insert(position, of: ids) == nil) }
        #expect(original.count == 20 && copy.count == 40)
        #expect(original.position(of: "id-30", in: ids) == nil)
        #expect(copy.position(of: "id-30", in: ids) == 30)
        #expect(original.position(of: "id-10", in: ids) == 10 && copy.position(of: "id-10", in: ids) == 10)
    }

    @Test("filled all at once (in slot order for a big table), a table finds what one filled id by id finds, and the same first duplicate",
          arguments: [100, RecordIDIndex.bucketedFrom + 5_000])
    func insertAll(count: Int) {
        let unique = (0..<count).map { "session-\($0)" }
        var index = RecordIDIndex(capacity: count)
        #expect(index.insertAll(count, of: unique) == nil)
        #expect(index.count == count)
        for position in stride(from: 0, to: count, by: 7) { #expect(index.position(of: unique[position], in: unique) == position) }
        #expect(index.position(of: "session-none", in: unique) == nil)

        // Duplicates late and early: the first in position order is the one
        // reported, with the earliest record that has its id.
        var repeated = unique
        for (position, copied) in [(count - 3, 5), (count / 2, count / 3), (count / 2 + 9, 11)] { repeated[position] = unique[copied] }
        var oneByOne = RecordIDIndex(capacity: count)
        var expected: (position: Int, first: Int)?
        for position in 0..<count {
            if let first = oneByOne.insert(position, of: repeated) { expected = (position, first); break }
        }
        var atOnce = RecordIDIndex(capacity: count)
        let found = atOnce.insertAll(count, of: repeated)
        #expect(found.map { [$0.position, $0.first] } == expected.map { [$0.position, $0.first] })
        #expect(expected.map { [$0.position, $0.first] } == [count / 2, count / 3])
    }
}
