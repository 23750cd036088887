// The scanner's word-at-a-time fast paths against plain byte-by-byte
// references: the first byte of a string that needs a look, white space,
// literals and numbers, starting at every offset modulo 8 and ending at the
// end of the buffer (where the fast paths must not read past it). Inputs are
// drawn from small alphabets of the bytes that sit next to the ones that
// matter (0x21 beside the quote, 0x1F beside the space, 0x7F and 0x80...), so
// a borrow running from one byte into the next shows as a mismatch.

import VigilJSON
import Testing

/// A small deterministic generator (SplitMix64), so a failure is repeatable.
struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func pick<T>(_ items: [T]) -> T { items[Int(next() % UInt64(items.count))] }
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

/// Runs `body` on a scanner over `bytes` at `position`.
func withScanner<R>(_ bytes: [UInt8], at position: Int, _ body: (inout JSONScanner) -> R) -> R {
    bytes.withUnsafeBufferPointer { buffer in
        var scanner = JSONScanner(buffer, position: position)
        return body(&scanner)
    }
}

/// A scan's outcome: where the cursor ended (and a token's bounds), or the error.
enum ScanOutcome: Equatable {
    case token(start: Int, end: Int, hasEscapes: Bool, next: Int)
    case range(Range<Int>, next: Int)
    case done(next: Int)
    case failure(offset: Int, message: String)
}

@Suite struct ScannerFastPathTests {
    static let stringAlphabet: [UInt8] = [
        0x22, 0x5C, 0x00, 0x01, 0x1F, 0x20, 0x21, 0x23, 0x5B, 0x5D, 0x7E, 0x7F, 0x80, 0x9F, 0xA0,
        0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xFF, UInt8(ascii: "a"), UInt8(ascii: "u"), UInt8(ascii: "0"),
    ]

    /// The first byte at or after `index` that is a quote, a backslash, a
    /// control character or not ASCII, byte by byte.
    static func referencePlainEnd(_ bytes: [UInt8], from index: Int) -> Int {
        var index = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte < 0x20 || byte >= 0x80 || byte == 0x22 || byte == 0x5C { return index }
            index += 1
        }
        return bytes.count
    }

    @Test func plainEndFindsTheFirstSpecialByteAtEveryOffset() {
        // One special byte at every place in runs of every length, from every start.
        let specials: [UInt8] = [0x22, 0x5C, 0x00, 0x1F, 0x80, 0xFF, 0xC3]
        let plains: [UInt8] = [0x20, 0x21, 0x23, 0x5B, 0x5D, 0x7F, UInt8(ascii: "x")]
        for length in 0...26 {
            for plain in plains {
                for special in specials {
                    for place in 0...length {
                        var bytes = [UInt8](repeating: plain, count: length)
                        if place < length { bytes[place] = special }
                        for start in 0...length {
                            let found = bytes.withUnsafeBufferPointer { buffer in
                                JSONScanner.plainEnd(buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!, from: start, count: buffer.count)
                            }
                            #expect(found == Self.referencePlainEnd(bytes, from: start),
                                    "length \(length) plain \(plain) special \(special) at \(place) from \(start)")
                        }
                    }
                }
            }
        }
    }

    @Test func plainEndMatchesTheReferenceOnRandomBytes() {
        var random = SplitMix(state: 11)
        for _ in 0..<3000 {
            let length = random.below(40)
            let bytes = (0..<length).map { _ in
                random.below(3) == 0 ? random.pick(Self.stringAlphabet) : UInt8(ascii: "a") + UInt8(random.below(26))
            }
            for start in 0...length {
                let found = bytes.withUnsafeBufferPointer { buffer in
                    JSONScanner.plainEnd(buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!, from: start, count: buffer.count)
                }
                #expect(found == Self.referencePlainEnd(bytes, from: start), "\(bytes) from \(start)")
            }
        }
    }

    static func outcome(_ body: (inout JSONScanner) throws(JSONSyntaxError) -> ScanOutcome, _ bytes: [UInt8], at position: Int) -> ScanOutcome {
        withScanner(bytes, at: position) { scanner in
            do throws(JSONSyntaxError) { return try body(&scanner) } catch { return .failure(offset: error.offset, message: error.message) }
        }
    }

    /// `scanString` as it was: plain bytes one by one, then the byte-wise rest.
    static func referenceScanString(_ scanner: inout JSONScanner) throws(JSONSyntaxError) -> ScanOutcome {
        let opening = scanner.position
        scanner.position += 1
        let start = scanner.position
        while scanner.position < scanner.bytes.count {
            let byte = scanner.bytes[scanner.position]
            if byte == 0x22 {
                scanner.position += 1
                return .token(start: start, end: scanner.position - 1, hasEscapes: false, next: scanner.position)
            }
            if byte < 0x20 || byte >= 0x80 || byte == 0x5C { break }
            scanner.position += 1
        }
        let token = try scanner.scanStringRest(opening: opening, start: start)
        return .token(start: token.start, end: token.end, hasEscapes: token.hasEscapes, next: scanner.position)
    }

    static func fastScanString(_ scanner: inout JSONScanner) throws(JSONSyntaxError) -> ScanOutcome {
        let token = try scanner.scanString()
        return .token(start: token.start, end: token.end, hasEscapes: token.hasEscapes, next: scanner.position)
    }

    @Test func scanStringMatchesTheByteWiseScanAtEveryOffsetAndAtTheEnd() {
        var random = SplitMix(state: 7)
        for round in 0..<4000 {
            let prefix = round % 9
            let length = random.below(30)
            var body = (0..<length).map { _ in
                random.below(4) == 0 ? random.pick(Self.stringAlphabet) : UInt8(ascii: "a") + UInt8(random.below(26))
            }
            // Often a clean ending: a quote, then nothing, or a little more.
            if random.below(2) == 0 { body.append(0x22) }
            let tail = (0..<random.below(3)).map { _ in UInt8(ascii: ",") }
            let bytes = [UInt8](repeating: 0x20, count: prefix) + [0x22] + body + tail
            let fast = Self.outcome(Self.fastScanString, bytes, at: prefix)
            let reference = Self.outcome(Self.referenceScanString, bytes, at: prefix)
            #expect(fast == reference, "\(bytes)")
        }
    }

    @Test func plainStringsEndingAtEveryOffsetBeforeTheEndOfTheBuffer() {
        for prefix in 0..<8 {
            for length in 0..<24 {
                for tail in 0..<10 {
                    let bytes = [UInt8](repeating: 0x20, count: prefix) + [0x22]
                        + [UInt8](repeating: UInt8(ascii: "k"), count: length) + [0x22]
                        + [UInt8](repeating: UInt8(ascii: "}"), count: tail)
                    #expect(Self.outcome(Self.fastScanString, bytes, at: prefix)
                            == .token(start: prefix + 1, end: prefix + 1 + length, hasEscapes: false, next: prefix + length + 2))
                    // Cut before the closing quote: unterminated, reported at the opening quote.
                    let cut = Array(bytes[..<(prefix + 1 + length)])
                    #expect(Self.outcome(Self.fastScanString, cut, at: prefix)
                            == .failure(offset: prefix, message: "unterminated string"))
                }
            }
        }
    }

    // MARK: White space

    @Test func skipWhitespaceMatchesTheByteWiseSkip() {
        let alphabet: [UInt8] = [0x20, 0x0A, 0x0D, 0x09, 0x20, 0x20, 0x00, 0x08, 0x0B, 0x0C, 0x1F, 0x21, 0x22,
                                 0x2A, 0x2D, 0x89, 0x8A, 0x8D, 0xA0, 0x29, 0x4A]
        var random = SplitMix(state: 3)
        for _ in 0..<3000 {
            let length = random.below(40)
            // Mostly white space, so long runs cross word boundaries.
            let bytes = (0..<length).map { _ in random.below(5) == 0 ? random.pick(alphabet) : random.pick([0x20, 0x0A, 0x0D, 0x09]) }
            for start in 0...length {
                var reference = start
                while reference < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[reference]) { reference += 1 }
                let fast = withScanner(bytes, at: start) { scanner in
                    scanner.skipWhitespace()
                    return scanner.position
                }
                #expect(fast == reference, "\(bytes) from \(start)")
            }
        }
    }

    // MARK: Literals

    @Test(arguments: ["true", "false", "null"])
    func literalsWholeCutAndWrongAtEveryOffset(word: String) {
        let utf8 = Array(word.utf8)
        let message = "expected a value, found an invalid literal (did you mean '\(word)'?)"
        let skip: (inout JSONScanner) throws(JSONSyntaxError) -> ScanOutcome = { scanner throws(JSONSyntaxError) in
            try scanner.skipValue(depth: 0)
            return .done(next: scanner.position)
        }
        for prefix in 0..<9 {
            let lead = [UInt8](repeating: 0x20, count: prefix)
            // Whole, at the end of the buffer and followed by more.
            #expect(Self.outcome(skip, lead + utf8, at: prefix) == .done(next: prefix + utf8.count))
            #expect(Self.outcome(skip, lead + utf8 + Array(", 1]".utf8), at: prefix) == .done(next: prefix + utf8.count))
            // Cut short at the end of the buffer.
            for cut in 1..<utf8.count {
                #expect(Self.outcome(skip, lead + utf8[..<cut], at: prefix) == .failure(offset: prefix, message: message))
            }
            // One byte wrong, in each place (the first byte stays, so the literal is chosen).
            for place in 1..<utf8.count {
                for wrong: UInt8 in [0x00, 0x20, UInt8(ascii: "x"), utf8[place] ^ 0x20, 0xFF] {
                    var bytes = lead + utf8 + [UInt8(ascii: "]")]
                    bytes[prefix + place] = wrong
                    #expect(Self.outcome(skip, bytes, at: prefix) == .failure(offset: prefix, message: message))
                }
            }
        }
    }

    // MARK: Numbers

    /// `scanNumber` as it was: the cursor moved byte by byte.
    static func referenceScanNumber(_ scanner: inout JSONScanner) throws(JSONSyntaxError) -> ScanOutcome {
        func digit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
        let start = scanner.position
        if scanner.current == UInt8(ascii: "-") { scanner.position += 1 }
        if scanner.current == UInt8(ascii: "0") && !scanner.atEnd {
            scanner.position += 1
            if digit(scanner.current) && !scanner.atEnd {
                throw scanner.fail("numbers must not have leading zeros", at: start)
            }
        } else if digit(scanner.current) && !scanner.atEnd {
            while digit(scanner.current) && !scanner.atEnd { scanner.position += 1 }
        } else {
            throw scanner.fail("expected a digit in a number, \(scanner.found)")
        }
        if scanner.current == UInt8(ascii: ".") && !scanner.atEnd {
            scanner.position += 1
            guard digit(scanner.current), !scanner.atEnd else {
                throw scanner.fail("expected a digit after the decimal point, \(scanner.found)")
            }
            while digit(scanner.current) && !scanner.atEnd { scanner.position += 1 }
        }
        if (scanner.current == UInt8(ascii: "e") || scanner.current == UInt8(ascii: "E")) && !scanner.atEnd {
            scanner.position += 1
            if (scanner.current == UInt8(ascii: "+") || scanner.current == UInt8(ascii: "-")) && !scanner.atEnd { scanner.position += 1 }
            guard digit(scanner.current), !scanner.atEnd else {
                throw scanner.fail("expected a digit in the exponent, \(scanner.found)")
            }
            while digit(scanner.current) && !scanner.atEnd { scanner.position += 1 }
        }
        return .range(start..<scanner.position, next: scanner.position)
    }

    @Test func scanNumberMatchesTheByteWiseScan() {
        let alphabet = Array("0123456789-+.eE x,]".utf8) + [0x00]
        var random = SplitMix(state: 5)
        for round in 0..<20000 {
            let prefix = round % 9
            let bytes = [UInt8](repeating: 0x20, count: prefix) + [random.pick(Array("-0123456789".utf8))]
                + (0..<random.below(12)).map { _ in random.below(2) == 0 ? random.pick(Array("0123456789".utf8)) : random.pick(alphabet) }
            let fast = Self.outcome({ scanner throws(JSONSyntaxError) in
                let range = try scanner.scanNumber()
                return .range(range, next: scanner.position)
            }, bytes, at: prefix)
            #expect(fast == Self.outcome(Self.referenceScanNumber, bytes, at: prefix), "\(String(decoding: bytes, as: UTF8.self))")
        }
    }

    // MARK: Keys

    @Test func tokenEqualsComparesEveryByte() {
        let bytes = Array(#""status" "statut" "Status" "stat" "" "a\u0062c" "abc""#.utf8)
        withScanner(bytes, at: 0) { scanner in
            var tokens: [JSONStringToken] = []
            while !scanner.atEnd {
                scanner.skipWhitespace()
                tokens.append(try! scanner.scanString())
            }
            #expect(tokens.map { scanner.token($0, equals: "status") } == [true, false, false, false, false, false, false])
            #expect(tokens.map { scanner.token($0, equals: "") } == [false, false, false, false, true, false, false])
            #expect(tokens.map { scanner.token($0, equals: "abc") } == [false, false, false, false, false, true, true])
        }
    }
}
