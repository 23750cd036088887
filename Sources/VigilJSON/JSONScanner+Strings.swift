// String scanning for `JSONScanner`: validation (escapes, surrogate pairs,
// control characters, UTF-8 well-formedness) in one pass that allocates
// nothing, and decoding only when a String is wanted. A string without
// escapes decodes straight from its source bytes.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension JSONScanner {
    /// Scans an object key: like `scanString`, with a better message when the
    /// key is missing (e.g. after a trailing comma).
    @inlinable @inline(__always) package mutating func scanKey() throws(JSONSyntaxError) -> JSONStringToken {
        guard current == UInt8(ascii: "\""), !atEnd else { throw missingKey() }
        return try scanString()
    }

    /// The error for a key that is not a string.
    @usableFromInline package func missingKey() -> JSONSyntaxError {
        if current == UInt8(ascii: "}") && !atEnd {
            return fail("expected a string key, found '}' (trailing commas are not allowed)")
        }
        return fail("expected a string key, \(found)")
    }

    /// Validates the string at the cursor (opening quote included) and moves
    /// past its closing quote.
    ///
    /// Eight bytes are looked at per step: `lookMask` marks the first byte
    /// that needs a look (a quote, a backslash, a control character, a
    /// non-ASCII byte), so a plain string, however short, ends in one or two
    /// steps at its closing quote. Anything else goes to the byte-wise path
    /// from that byte on, which gives every error exactly as before. The last
    /// seven bytes of the buffer are looked at one by one (no load past the end).
    @inlinable @inline(__always) package mutating func scanString() throws(JSONSyntaxError) -> JSONStringToken {
        let opening = position
        let start = position &+ 1
        guard let base = bytes.baseAddress else {
            position = start
            return try scanStringRest(opening: opening, start: start)
        }
        let end = Self.plainEnd(base, from: start, count: bytes.count)
        if end < bytes.count && base[end] == UInt8(ascii: "\"") {
            position = end &+ 1
            return JSONStringToken(start: start, end: end, hasEscapes: false)
        }
        position = end
        return try scanStringRest(opening: opening, start: start)
    }

    /// The index of the first byte at or after `index` that is a quote, a
    /// backslash, a control character or not ASCII, or `count` if none.
    @inlinable @inline(__always)
    package static func plainEnd(_ base: UnsafePointer<UInt8>, from index: Int, count: Int) -> Int {
        var index = index
        let raw = UnsafeRawPointer(base)
        while index &+ 8 <= count {
            let mask = lookMask(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)))
            if mask != 0 { return index &+ mask.trailingZeroBitCount &>> 3 }
            index &+= 8
        }
        while index < count {
            let byte = base[index]
            if byte < 0x20 || byte >= 0x80 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { return index }
            index &+= 1
        }
        return count
    }

    /// A mask with the high bit set in (at least) the lowest byte of `word`
    /// (in memory order) that is a quote, a backslash, a control character
    /// or not ASCII, and zero when there is none. Bytes above the first
    /// marked one may be marked wrongly (a borrow runs on), so only the
    /// lowest set bit means anything. The classic has-zero-byte test, per
    /// kind of byte.
    @inlinable @inline(__always) package static func lookMask(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        let hasQuote = (quote &- ones) & ~quote
        let hasBackslash = (backslash &- ones) & ~backslash
        let hasControl = (word &- ones &* 0x20) & ~word
        return (hasQuote | hasBackslash | hasControl | word) & highs
    }

    /// The byte-wise remainder of `scanString` from the cursor: escapes,
    /// multi-byte UTF-8, the closing quote, errors. Plain runs between them
    /// are skipped with `plainEnd`.
    @usableFromInline package mutating func scanStringRest(opening: Int, start: Int) throws(JSONSyntaxError) -> JSONStringToken {
        var hasEscapes = false
        while position < bytes.count {
            let byte = bytes[position]
            if byte >= 0x20 && byte < 0x80 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                position = Self.plainEnd(bytes.baseAddress!, from: position, count: bytes.count)
                continue
            }
            if byte == UInt8(ascii: "\"") {
                position += 1
                return JSONStringToken(start: start, end: position - 1, hasEscapes: hasEscapes)
            }
            if byte == UInt8(ascii: "\\") {
                hasEscapes = true
                try scanEscape()
                continue
            }
            if byte < 0x20 {
                let hex = String(byte, radix: 16, uppercase: true)
                throw fail("control character U+\(String(repeating: "0", count: 4 - hex.count))\(hex) in a string must be escaped")
            }
            try scanUTF8Sequence()
        }
        throw fail("unterminated string", at: opening)
    }

    /// Checks one escape sequence (cursor on the backslash) and moves past it.
    package mutating func scanEscape() throws(JSONSyntaxError) {
        let backslash = position
        position += 1
        switch current {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
             UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            if atEnd { break }
            position += 1
            return
        case UInt8(ascii: "u"):
            position += 1
            let unit = try hex4(escapeAt: backslash)
            if unit >= 0xDC00 && unit <= 0xDFFF {
                if allowsLoneSurrogates { return }
                throw fail("lone low surrogate \\u\(hexText(unit)) in a string", at: backslash)
            }
            if unit >= 0xD800 && unit <= 0xDBFF {
                if allowsLoneSurrogates && lowSurrogate(at: position) == nil { return }
                guard current == UInt8(ascii: "\\"), position + 1 < bytes.count, bytes[position + 1] == UInt8(ascii: "u") else {
                    throw fail("high surrogate \\u\(hexText(unit)) is not followed by a low surrogate", at: backslash)
                }
                let second = position
                position += 2
                let low = try hex4(escapeAt: second)
                guard low >= 0xDC00 && low <= 0xDFFF else {
                    throw fail("high surrogate \\u\(hexText(unit)) is not followed by a low surrogate", at: backslash)
                }
            }
            return
        default:
            break
        }
        throw fail("invalid escape sequence in a string: backslash \(found)", at: backslash)
    }

    /// The low surrogate spelled by a well-formed `\\uDC00`-`\\uDFFF` escape
    /// starting at `index`, or nil.
    package func lowSurrogate(at index: Int) -> UInt32? {
        guard index + 6 <= bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
            return nil
        }
        var value: UInt32 = 0
        for offset in 2..<6 {
            let byte = bytes[index + offset]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
        }
        return value >= 0xDC00 && value <= 0xDFFF ? value : nil
    }

    /// Reads four hex digits at the cursor.
    package mutating func hex4(escapeAt escape: Int) throws(JSONSyntaxError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = current
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw fail("invalid \\u escape: expected four hex digits, \(found)", at: escape)
            }
            if atEnd { throw fail("invalid \\u escape: expected four hex digits, \(found)", at: escape) }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    package func hexText(_ unit: UInt32) -> String {
        let hex = String(unit, radix: 16, uppercase: true)
        return String(repeating: "0", count: 4 - hex.count) + hex
    }

    /// Validates one multi-byte UTF-8 sequence at the cursor (the lead byte is
    /// >= 0x80): no overlong forms, no surrogates, nothing above U+10FFFF.
    package mutating func scanUTF8Sequence() throws(JSONSyntaxError) {
        let lead = bytes[position]
        let count: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: count = 1
        case 0xE0: count = 2; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: count = 2
        case 0xED: count = 2; high = 0x9F
        case 0xF0: count = 3; low = 0x90
        case 0xF1...0xF3: count = 3
        case 0xF4: count = 3; high = 0x8F
        default: throw fail("invalid UTF-8 in a string (byte 0x\(String(lead, radix: 16, uppercase: true)))")
        }
        let start = position
        for index in 1...count {
            let at = start + index
            guard at < bytes.count else { throw fail("invalid UTF-8 in a string (truncated sequence)", at: start) }
            let byte = bytes[at]
            let (min, max) = index == 1 ? (low, high) : (UInt8(0x80), UInt8(0xBF))
            guard byte >= min && byte <= max else {
                throw fail("invalid UTF-8 in a string (byte 0x\(String(byte, radix: 16, uppercase: true)))", at: at)
            }
        }
        position = start + count + 1
    }

    /// The string a validated token stands for.
    package func decode(_ token: JSONStringToken) -> String {
        let raw = UnsafeBufferPointer(rebasing: bytes[token.start..<token.end])
        if !token.hasEscapes {
            // Already validated as UTF-8, so decoding repairs nothing.
            return String(decoding: raw, as: UTF8.self)
        }
        var utf8: [UInt8] = []
        utf8.reserveCapacity(raw.count)
        var index = token.start
        while index < token.end {
            let byte = bytes[index]
            guard byte == UInt8(ascii: "\\") else {
                utf8.append(byte)
                index += 1
                continue
            }
            let kind = bytes[index + 1]
            index += 2
            switch kind {
            case UInt8(ascii: "b"): utf8.append(0x08)
            case UInt8(ascii: "f"): utf8.append(0x0C)
            case UInt8(ascii: "n"): utf8.append(0x0A)
            case UInt8(ascii: "r"): utf8.append(0x0D)
            case UInt8(ascii: "t"): utf8.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hexValue(at: index)
                index += 4
                if scalar >= 0xD800 && scalar <= 0xDBFF, index < token.end, let low = lowSurrogate(at: index) {
                    index += 6
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if scalar >= 0xD800 && scalar <= 0xDFFF {
                    scalar = 0xFFFD // a lone surrogate (only with allowsLoneSurrogates)
                }
                Self.appendUTF8(scalar, to: &utf8)
            default: utf8.append(kind) // '"', '\\' and '/' stand for themselves
            }
        }
        return String(decoding: utf8, as: UTF8.self)
    }

    /// Appends the UTF-8 form of a scalar value (never a surrogate here;
    /// the botmux writer uses it too).
    package static func appendUTF8(_ scalar: UInt32, to utf8: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            utf8.append(UInt8(scalar))
        case 0x80..<0x800:
            utf8.append(UInt8(0xC0 | scalar >> 6))
            utf8.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            utf8.append(UInt8(0xE0 | scalar >> 12))
            utf8.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            utf8.append(UInt8(0x80 | scalar & 0x3F))
        default:
            utf8.append(UInt8(0xF0 | scalar >> 18))
            utf8.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            utf8.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            utf8.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    /// Four already-validated hex digits at `index`.
    package func hexValue(at index: Int) -> UInt32 {
        var value: UInt32 = 0
        for offset in 0..<4 {
            let byte = bytes[index + offset]
            let digit: UInt8 = switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
            default: byte - UInt8(ascii: "A") + 10
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// Whether a validated token spells exactly `key` (no allocation; a key
    /// with escapes is decoded first, which is rare and still correct).
    /// Keys are short: compared byte by byte, inline, without a call.
    @inlinable @inline(__always) package func token(_ token: JSONStringToken, equals key: StaticString) -> Bool {
        if token.hasEscapes { return decodedToken(token, equals: key) }
        let count = key.utf8CodeUnitCount
        guard token.end - token.start == count else { return false }
        guard count > 0, let base = bytes.baseAddress else { return count == 0 }
        let source = base + token.start
        let expected = key.utf8Start
        var index = 0
        while index < count {
            if source[index] != expected[index] { return false }
            index &+= 1
        }
        return true
    }

    /// `token(_:equals:)` for a token with escapes.
    @usableFromInline package func decodedToken(_ token: JSONStringToken, equals key: StaticString) -> Bool {
        decode(token) == key.description
    }

    /// Whether a validated token spells exactly `text`.
    package func token(_ token: JSONStringToken, equalsText text: String) -> Bool {
        if token.hasEscapes { return decode(token) == text }
        var text = text
        return text.withUTF8 { utf8 in
            utf8.count == token.end - token.start
                && utf8.elementsEqual(UnsafeBufferPointer(rebasing: bytes[token.start..<token.end]))
        }
    }
}
