// A strict RFC 8259 parser over raw bytes.
//
// It runs in two modes over the same grammar: `parseValue` builds a
// `JSONValue`, `skipValue` only validates. The store loader walks the
// document's top level itself and skips (validates) each record's unknown
// members without building them, so loading 100,000 records costs one pass
// and few allocations; a record is built into a `JSONValue` only when it has
// to be re-serialized.
//
// Strictness: only space, tab, LF and CR are whitespace; no comments, no
// trailing commas, no leading zeros, no byte-order mark, no control
// characters or invalid UTF-8 inside strings, no lone surrogate escapes, and
// nothing but whitespace after the document. Nesting is capped (512 levels)
// so hostile input cannot overflow the stack of this recursive parser.

/// A JSON syntax error with its 1-based line and column.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 1-based line of the offending byte.
    public let line: Int
    /// 1-based column of the offending byte, counted in Unicode scalars.
    public let column: Int
    /// 0-based byte offset of the offending byte.
    public let offset: Int
    /// What is wrong, e.g. "expected ',' or '}' after an object member, found ']'".
    public let message: String

    /// `line 3, column 14: <message>`.
    public var description: String { "line \(line), column \(column): \(message)" }
}

extension JSONValue {
    /// The deepest nesting of arrays and objects the parser accepts.
    public static let maximumDepth = 512

    /// Parses one complete JSON document (any value at the top level).
    /// - Parameters:
    ///   - bytes: the document, UTF-8.
    ///   - maximumDepth: the deepest nesting accepted (at most `JSONValue.maximumDepth`).
    /// - Throws: `JSONParseError` for any syntax error, including trailing data.
    public static func parse(_ bytes: [UInt8], maximumDepth: Int = JSONValue.maximumDepth) throws(JSONParseError) -> JSONValue {
        try parse(bytes, maximumDepth: maximumDepth, allowingLoneSurrogates: false)
    }

    /// `parse(_:maximumDepth:)`, with `\uD800`-`\uDFFF` escapes that are not
    /// half of a pair accepted when asked (as `JSON.parse` accepts them;
    /// they decode to U+FFFD).
    package static func parse(_ bytes: [UInt8], maximumDepth: Int = JSONValue.maximumDepth,
                              allowingLoneSurrogates: Bool) throws(JSONParseError) -> JSONValue {
        let result: Result<JSONValue, JSONSyntaxError> = bytes.withUnsafeBufferPointer { buffer in
            var scanner = JSONScanner(buffer)
            scanner.depthLimit = min(maximumDepth, JSONValue.maximumDepth)
            scanner.allowsLoneSurrogates = allowingLoneSurrogates
            return Result { () throws(JSONSyntaxError) -> JSONValue in
                scanner.skipWhitespace()
                let value = try scanner.parseValue(depth: 0)
                try scanner.expectEnd()
                return value
            }
        }
        switch result {
        case .success(let value): return value
        case .failure(let error): throw error.located(in: bytes)
        }
    }

    /// Parses one complete JSON document from text.
    /// - Throws: `JSONParseError` for any syntax error, including trailing data.
    public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try parse(Array(text.utf8))
    }
}

// MARK: - Internal error

/// A syntax error at a byte offset; turned into line:column only when
/// reported, so the hot path never counts lines.
//
// Public only so that the scanner's inlinable hot paths can throw it
// (see `JSONScanner`); its members stay package.
public struct JSONSyntaxError: Error {
    package let offset: Int
    package let message: String

    @usableFromInline package init(offset: Int, message: String) {
        self.offset = offset
        self.message = message
    }

    package func located(in bytes: [UInt8]) -> JSONParseError {
        bytes.withUnsafeBufferPointer { located(in: $0) }
    }

    package func located(in buffer: UnsafeBufferPointer<UInt8>) -> JSONParseError {
        let end = min(offset, buffer.count)
        var line = 1
        var column = 1
        for index in 0..<end {
            let byte = buffer[index]
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return JSONParseError(line: line, column: column, offset: offset, message: message)
    }
}

// MARK: - Scanner

/// A string's position in the source: the bytes between the quotes, and
/// whether they contain escapes (if not, they are the string's UTF-8 as is).
@frozen public struct JSONStringToken {
    @usableFromInline package let start: Int
    @usableFromInline package let end: Int
    @usableFromInline package let hasEscapes: Bool

    @inlinable package init(start: Int, end: Int, hasEscapes: Bool) {
        self.start = start
        self.end = end
        self.hasEscapes = hasEscapes
    }
}

/// The cursor over a document's bytes. The buffer must outlive the scanner.
//
// The hot paths (the cursor, whitespace, list punctuation, plain strings)
// are `@inlinable` so that the store's loader in another module compiles
// them into its own loop instead of calling across the module boundary
// once per byte run.
//
// The type is public (its members are not): Swift 6.3 does not inline the
// `@inlinable` members of a `package` type into another module, so with a
// package type every one of them was a call from the store's loader. With
// a public type they are inlined as they say.
@frozen public struct JSONScanner {
    @usableFromInline package let bytes: UnsafeBufferPointer<UInt8>
    @usableFromInline package var position = 0
    /// Nesting deeper than this is refused.
    @usableFromInline package var depthLimit = JSONValue.maximumDepth
    /// Accept `\uD800`-`\uDFFF` escapes that are not half of a pair. RFC 8259
    /// allows them in the grammar; a JavaScript string can hold one (a title
    /// cut in the middle of an emoji) and `JSON.stringify` writes it so. Off
    /// by default; `decode` turns each one into U+FFFD.
    @usableFromInline package var allowsLoneSurrogates = false

    package init(_ bytes: UnsafeBufferPointer<UInt8>, position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    /// The byte at the cursor, or 0 at the end (0 is invalid everywhere the
    /// grammar looks, so every caller fails on it and then checks `atEnd`).
    @inlinable @inline(__always) package var current: UInt8 {
        position < bytes.count ? bytes[position] : 0
    }

    @inlinable @inline(__always) package var atEnd: Bool { position >= bytes.count }

    /// Moves past white space. The common cases (none, or one space as
    /// after `:` and `,`) are decided here; anything longer goes to
    /// `skipWhitespaceRun`.
    @inlinable @inline(__always) package mutating func skipWhitespace() {
        guard position < bytes.count else { return }
        let byte = bytes[position]
        if byte > 0x20 { return }
        if byte == 0x20 {
            position &+= 1
            if position < bytes.count && bytes[position] > 0x20 { return }
        }
        skipWhitespaceRun()
    }

    /// `skipWhitespace` from the cursor on, eight bytes a step (the
    /// indentation of a pretty-printed document).
    @usableFromInline package mutating func skipWhitespaceRun() {
        let count = bytes.count
        guard let base = bytes.baseAddress else { return }
        var index = position
        let raw = UnsafeRawPointer(base)
        while index &+ 8 <= count {
            let mask = Self.nonWhitespaceMask(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)))
            if mask != 0 {
                position = index &+ mask.trailingZeroBitCount &>> 3
                return
            }
            index &+= 8
        }
        while index < count {
            switch base[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index &+= 1
            default:
                position = index
                return
            }
        }
        position = index
    }

    /// The high bit of every byte of `word` that is not JSON white space
    /// (space, tab, LF, CR), exactly (no borrow runs between bytes).
    @inlinable @inline(__always) package static func nonWhitespaceMask(_ word: UInt64) -> UInt64 {
        let lows: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        let highs: UInt64 = 0x8080_8080_8080_8080
        let ones: UInt64 = 0x0101_0101_0101_0101
        /// High bit set exactly in the bytes equal to `value`.
        @inline(__always) func equal(_ value: UInt64) -> UInt64 {
            let x = word ^ (ones &* value)
            return ~(((x & lows) &+ lows) | x) & highs
        }
        return ~(equal(0x20) | equal(0x0A) | equal(0x0D) | equal(0x09)) & highs
    }

    @usableFromInline package func fail(_ message: String, at offset: Int? = nil) -> JSONSyntaxError {
        JSONSyntaxError(offset: offset ?? position, message: message)
    }

    /// "found 'x'", "found end of file", "found byte 0xEF".
    package var found: String {
        if atEnd { return "found end of file" }
        let byte = current
        if byte >= 0x21 && byte < 0x7F { return "found '\(Character(Unicode.Scalar(byte)))'" }
        if byte == 0x20 { return "found a space" }
        let hex = String(byte, radix: 16, uppercase: true)
        return "found byte 0x\(hex.count == 1 ? "0" + hex : hex)"
    }

    package mutating func expectEnd() throws(JSONSyntaxError) {
        skipWhitespace()
        if !atEnd { throw fail("unexpected data after the end of the document, \(found)") }
    }

    @inlinable package mutating func expect(_ byte: UInt8, _ what: @autoclosure () -> String) throws(JSONSyntaxError) {
        guard current == byte, !atEnd else { throw expected(what()) }
        position += 1
    }

    /// "expected WHAT, found ..." at the cursor (kept out of line: only
    /// errors build it).
    @usableFromInline package func expected(_ what: String) -> JSONSyntaxError {
        fail("expected \(what), \(found)")
    }

    // MARK: Values

    /// Parses the value at the cursor (no leading whitespace) and builds it.
    package mutating func parseValue(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        switch current {
        case UInt8(ascii: "{"):
            return .object(try parseObject(depth: depth + 1))
        case UInt8(ascii: "["):
            try enter(depth: depth + 1)
            position += 1
            var elements: [JSONValue] = []
            skipWhitespace()
            if current == UInt8(ascii: "]") {
                position += 1
                return .array(elements)
            }
            while true {
                skipWhitespace()
                elements.append(try parseValue(depth: depth + 1))
                skipWhitespace()
                if try endOfList(close: UInt8(ascii: "]"), "',' or ']' after an array element") { break }
            }
            return .array(elements)
        case UInt8(ascii: "\""):
            return .string(decode(try scanString()))
        default:
            return try parseScalar()
        }
    }

    // MARK: Objects, member by member
    //
    // Every walk over an object's members (building, skipping, the store
    // loaders) is the same three steps:
    //
    //     if try scanner.enterObject(depth: d) {
    //         repeat {
    //             let key = try scanner.memberKey()
    //             ... read or skip the value at the cursor ...
    //         } while try scanner.nextMember()
    //     }

    /// Enters the object at the cursor (on its `{`, nesting checked):
    /// true when it has members, false when it is `{}` (then the cursor is
    /// past it).
    @inlinable @inline(__always) package mutating func enterObject(depth: Int) throws(JSONSyntaxError) -> Bool {
        try enter(depth: depth)
        position += 1
        skipWhitespace()
        if current == UInt8(ascii: "}") && !atEnd {
            position += 1
            return false
        }
        return true
    }

    /// The next member's key, up to its value: white space, the key, white
    /// space, `:`, white space. The cursor is then on the value.
    @inlinable @inline(__always) package mutating func memberKey() throws(JSONSyntaxError) -> JSONStringToken {
        skipWhitespace()
        let key = try scanKey()
        skipWhitespace()
        try expect(UInt8(ascii: ":"), "':' after an object key")
        skipWhitespace()
        return key
    }

    /// After a member's value: true when another member follows (`,`),
    /// false at the object's `}` (consumed).
    @inlinable @inline(__always) package mutating func nextMember() throws(JSONSyntaxError) -> Bool {
        skipWhitespace()
        return try !endOfList(close: UInt8(ascii: "}"), "',' or '}' after an object member")
    }

    /// Parses the object at the cursor (`{` included) and builds it.
    package mutating func parseObject(depth: Int) throws(JSONSyntaxError) -> JSONObject {
        var members: [JSONMember] = []
        if try enterObject(depth: depth) {
            repeat {
                let key = decode(try memberKey())
                members.append(JSONMember(key, try parseValue(depth: depth)))
            } while try nextMember()
        }
        return JSONObject(members)
    }

    /// Validates the value at the cursor (no leading whitespace) and moves
    /// past it without building anything.
    package mutating func skipValue(depth: Int) throws(JSONSyntaxError) {
        switch current {
        case UInt8(ascii: "{"):
            guard try enterObject(depth: depth + 1) else { return }
            repeat {
                _ = try memberKey()
                try skipValue(depth: depth + 1)
            } while try nextMember()
        case UInt8(ascii: "["):
            try enter(depth: depth + 1)
            position += 1
            skipWhitespace()
            if current == UInt8(ascii: "]") {
                position += 1
                return
            }
            while true {
                skipWhitespace()
                try skipValue(depth: depth + 1)
                skipWhitespace()
                if try endOfList(close: UInt8(ascii: "]"), "',' or ']' after an array element") { return }
            }
        case UInt8(ascii: "\""):
            _ = try scanString()
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            _ = try scanNumber() // validated, never built
        case UInt8(ascii: "t"):
            try literal("true")
        case UInt8(ascii: "f"):
            try literal("false")
        case UInt8(ascii: "n"):
            try literal("null")
        default:
            _ = try parseScalar()
        }
    }

    @inlinable @inline(__always) package func enter(depth: Int) throws(JSONSyntaxError) {
        if depth > depthLimit {
            throw fail("arrays and objects nested deeper than \(depthLimit) levels")
        }
    }

    /// After an element: consumes `,` (returns false) or the closing bracket
    /// (returns true).
    @inlinable @inline(__always) package mutating func endOfList(close: UInt8, _ what: @autoclosure () -> String) throws(JSONSyntaxError) -> Bool {
        let byte = current
        if byte == UInt8(ascii: ",") && !atEnd {
            position += 1
            return false
        }
        if byte == close && !atEnd {
            position += 1
            return true
        }
        throw expected(what())
    }

    /// `true`, `false`, `null` or a number.
    package mutating func parseScalar() throws(JSONSyntaxError) -> JSONValue {
        switch current {
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let range = try scanNumber()
            return .number(String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self))
        default:
            if position == 0 && bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF {
                throw fail("a byte-order mark is not allowed before a JSON document")
            }
            throw fail("expected a value, \(found)")
        }
    }

    /// Moves past `word` (`true`, `false` or `null`) at the cursor.
    package mutating func literal(_ word: StaticString) throws(JSONSyntaxError) {
        let start = position
        let count = word.utf8CodeUnitCount
        // Whole words compared four bytes at a time (for `false`, bytes 0-3
        // and 1-4); a mismatch or the end of the buffer takes the byte-wise
        // path below, which gives the error.
        if count >= 4, start &+ count <= bytes.count, let base = bytes.baseAddress {
            let source = UnsafeRawPointer(base + start)
            let expected = UnsafeRawPointer(word.utf8Start)
            let tail = count &- 4
            if source.loadUnaligned(as: UInt32.self) == expected.loadUnaligned(as: UInt32.self)
                && source.loadUnaligned(fromByteOffset: tail, as: UInt32.self)
                    == expected.loadUnaligned(fromByteOffset: tail, as: UInt32.self) {
                position = start &+ count
                return
            }
        }
        var index = 0
        while index < count {
            guard current == word.utf8Start[index], !atEnd else {
                throw fail("expected a value, found an invalid literal (did you mean '\(word)'?)", at: start)
            }
            position += 1
            index += 1
        }
    }

    // MARK: Numbers

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    ///
    /// Runs on a local index over the buffer; the cursor is set where an
    /// error is found (the errors name the byte there) or past the number.
    package mutating func scanNumber() throws(JSONSyntaxError) -> Range<Int> {
        let start = position
        let buffer = bytes
        let count = buffer.count
        /// The byte at `index`, or 0 at the end (as `current`).
        @inline(__always) func at(_ index: Int) -> UInt8 { index < count ? buffer[index] : 0 }
        var index = start
        if at(index) == UInt8(ascii: "-") { index &+= 1 }
        if at(index) == UInt8(ascii: "0") {
            index &+= 1
            if isDigit(at(index)) {
                position = index
                throw fail("numbers must not have leading zeros", at: start)
            }
        } else if isDigit(at(index)) {
            index &+= 1
            while isDigit(at(index)) { index &+= 1 }
        } else {
            position = index
            throw fail("expected a digit in a number, \(found)")
        }
        if at(index) == UInt8(ascii: ".") {
            index &+= 1
            guard isDigit(at(index)) else {
                position = index
                throw fail("expected a digit after the decimal point, \(found)")
            }
            while isDigit(at(index)) { index &+= 1 }
        }
        let exponent = at(index)
        if exponent == UInt8(ascii: "e") || exponent == UInt8(ascii: "E") {
            index &+= 1
            let sign = at(index)
            if sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { index &+= 1 }
            guard isDigit(at(index)) else {
                position = index
                throw fail("expected a digit in the exponent, \(found)")
            }
            while isDigit(at(index)) { index &+= 1 }
        }
        position = index
        return start..<index
    }

    @inlinable @inline(__always) package func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}
