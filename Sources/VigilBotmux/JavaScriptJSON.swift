// JSON as JavaScript reads and writes it: what `JSON.parse` makes of a
// document and what `JSON.stringify(value, null, 2)` writes back, byte for
// byte, for the parts of a botmux store that Vigil changes.
//
// Facts this file reproduces (ECMA-262 `JSON.parse`, `JSON.stringify`,
// `QuoteJSONString`, ordinary object property order), checked against Node:
// - Layout with an indent of 2: `{`, then one member per line indented two
//   spaces per level as `"key": value`, members joined by `,`, the closing
//   bracket on its own line at the parent's indent; `{}` and `[]` when
//   empty; no trailing newline.
// - Strings: only `"`, `\`, the code units below U+0020 (as `\b \t \n \f \r`
//   or `\u00xx`, lowercase hex) and lone surrogates (`\udxxx`, lowercase)
//   are escaped. `/`, DEL, U+2028/2029 and all other non-ASCII text are
//   written as themselves (UTF-8), whatever escapes the source used.
// - Object members: a key seen twice keeps its first position and its last
//   value; keys that are array indices (canonical integers 0 ... 2^32 - 2)
//   come first in ascending numeric order, then the others in order.
// - Numbers: JavaScript would reformat them (`1.0` -> `1`); Vigil keeps
//   them as written, so a value never changes by being re-laid.
//
// The scanner runs with `allowsLoneSurrogates`, because `JSON.stringify`
// writes a JavaScript string holding half a surrogate pair as `\ud83d` and
// `JSON.parse` reads it back: a real store can hold one.

import VigilJSON

/// What JavaScript sees in one member value, enough for the truthiness and
/// type tests botmux makes (`if (session.queued)`, `typeof x === 'string'`).
public enum JSValueSummary: Sendable, Hashable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number, as written.
    case number(String)
    /// A string, decoded (a lone surrogate becomes U+FFFD).
    case string(String)
    /// An array and its element count.
    case array(count: Int)
    /// An object.
    case object

    /// JavaScript truthiness: `false`, `0`, `-0`, `NaN`, `""` and `null`
    /// are falsy (an absent member is `undefined`, falsy too).
    public var isTruthy: Bool {
        switch self {
        case .null: return false
        case .bool(let flag): return flag
        case .number(let text): return (Double(text) ?? 1) != 0
        case .string(let text): return !text.isEmpty
        case .array, .object: return true
        }
    }

    /// The string, if this is one.
    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// The number's value, if this is one.
    public var numberValue: Double? {
        if case .number(let text) = self { return Double(text) }
        return nil
    }

    /// "a string", "an array", for messages.
    public var kindDescription: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// A scanner configured as JavaScript's `JSON.parse` reads: lone surrogate
/// escapes allowed.
func javaScriptScanner(_ buffer: UnsafeBufferPointer<UInt8>, position: Int = 0) -> JSONScanner {
    var scanner = JSONScanner(buffer, position: position)
    scanner.allowsLoneSurrogates = true
    return scanner
}

extension JSONScanner {
    /// Summarises the value at the cursor and moves past it.
    mutating func summarizeValue(depth: Int) throws(JSONSyntaxError) -> JSValueSummary {
        switch current {
        case UInt8(ascii: "\""):
            return .string(decode(try scanString()))
        case UInt8(ascii: "{"):
            try skipValue(depth: depth)
            return .object
        case UInt8(ascii: "["):
            // Count the elements (a non-empty `queuedActivationTail` matters).
            try enter(depth: depth + 1)
            position += 1
            skipWhitespace()
            if current == UInt8(ascii: "]") && !atEnd {
                position += 1
                return .array(count: 0)
            }
            var count = 0
            while true {
                skipWhitespace()
                try skipValue(depth: depth + 1)
                count += 1
                skipWhitespace()
                if try endOfList(close: UInt8(ascii: "]"), "',' or ']' after an array element") { break }
            }
            return .array(count: count)
        default:
            switch try parseScalar() {
            case .null: return .null
            case .bool(let flag): return .bool(flag)
            case .number(let text): return .number(text)
            default: return .null // parseScalar only makes the three above
            }
        }
    }
}

/// Appends JSON exactly as `JSON.stringify(value, null, 2)` lays it out.
struct StringifyWriter {
    var bytes: [UInt8] = []

    init(reservingCapacity capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    // MARK: Strings

    /// A Swift string, quoted and escaped as `JSON.stringify` does (a Swift
    /// string never holds a lone surrogate): VigilJSON's escaper, which
    /// writes exactly those escapes.
    mutating func appendString(_ text: String) {
        JSONWriter.appendQuoted(text, to: &bytes)
    }

    /// A validated source string token, re-escaped as `JSON.stringify` would
    /// write the string `JSON.parse` reads from it.
    mutating func appendString(_ token: JSONStringToken, in scanner: JSONScanner) {
        let source = scanner.bytes
        bytes.append(UInt8(ascii: "\""))
        var index = token.start
        var runStart = index
        while index < token.end {
            guard source[index] == UInt8(ascii: "\\") else {
                // Raw bytes: validated UTF-8 without `"` or control characters.
                index += 1
                continue
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: source[runStart..<index]))
            let kind = source[index + 1]
            switch kind {
            case UInt8(ascii: "u"):
                var unit = scanner.hexValue(at: index + 2)
                index += 6
                if unit >= 0xD800 && unit <= 0xDBFF, index < token.end, let low = scanner.lowSurrogate(at: index) {
                    unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    index += 6
                }
                appendCodeUnit(unit)
            case UInt8(ascii: "b"): appendCodeUnit(0x08); index += 2
            case UInt8(ascii: "f"): appendCodeUnit(0x0C); index += 2
            case UInt8(ascii: "n"): appendCodeUnit(0x0A); index += 2
            case UInt8(ascii: "r"): appendCodeUnit(0x0D); index += 2
            case UInt8(ascii: "t"): appendCodeUnit(0x09); index += 2
            default: appendCodeUnit(UInt32(kind)); index += 2 // `"`, `\`, `/`
            }
            runStart = index
        }
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: source[runStart..<token.end]))
        bytes.append(UInt8(ascii: "\""))
    }

    /// One code point (or lone surrogate) as `QuoteJSONString` writes it.
    mutating func appendCodeUnit(_ unit: UInt32) {
        switch unit {
        case 0x08: append("\\b")
        case 0x09: append("\\t")
        case 0x0A: append("\\n")
        case 0x0C: append("\\f")
        case 0x0D: append("\\r")
        case 0x22: append("\\\"")
        case 0x5C: append("\\\\")
        case 0..<0x20, 0xD800...0xDFFF:
            let digits = Array("0123456789abcdef".utf8)
            bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"),
                                      digits[Int(unit >> 12 & 0xF)], digits[Int(unit >> 8 & 0xF)],
                                      digits[Int(unit >> 4 & 0xF)], digits[Int(unit & 0xF)]])
        default:
            JSONScanner.appendUTF8(unit, to: &bytes)
        }
    }

    mutating func append(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    mutating func newline(indent level: Int) {
        bytes.append(UInt8(ascii: "\n"))
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * level))
    }

    // MARK: Values

    /// Re-lays the validated value at `position` of `scanner`'s bytes as
    /// `JSON.stringify` would at nesting `depth` (0 for the document).
    /// - Returns: the position after the value.
    @discardableResult
    mutating func relayValue(at position: Int, depth: Int, in scanner: JSONScanner) -> Int {
        var cursor = scanner
        cursor.position = position
        do throws(JSONSyntaxError) {
            switch cursor.current {
            case UInt8(ascii: "{"):
                let object = try JSObjectLayout(scanning: &cursor)
                writeObject(object, depth: depth, in: scanner)
            case UInt8(ascii: "["):
                cursor.position += 1
                cursor.skipWhitespace()
                if cursor.current == UInt8(ascii: "]") {
                    append("[]")
                    return cursor.position + 1
                }
                bytes.append(UInt8(ascii: "["))
                var first = true
                while true {
                    cursor.skipWhitespace()
                    if !first { bytes.append(UInt8(ascii: ",")) }
                    first = false
                    newline(indent: depth + 1)
                    cursor.position = relayValue(at: cursor.position, depth: depth + 1, in: scanner)
                    cursor.skipWhitespace()
                    if try cursor.endOfList(close: UInt8(ascii: "]"), "',' or ']'") { break }
                }
                newline(indent: depth)
                bytes.append(UInt8(ascii: "]"))
            case UInt8(ascii: "\""):
                appendString(try cursor.scanString(), in: scanner)
            default:
                let start = cursor.position
                _ = try cursor.parseScalar()
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: scanner.bytes[start..<cursor.position]))
            }
        } catch {
            preconditionFailure("a validated value failed to scan again: \(error.message)")
        }
        return cursor.position
    }

    /// Writes an object's members (already in JavaScript order).
    mutating func writeObject(_ object: JSObjectLayout, depth: Int, in scanner: JSONScanner) {
        guard !object.members.isEmpty else {
            append("{}")
            return
        }
        bytes.append(UInt8(ascii: "{"))
        for (index, member) in object.members.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            newline(indent: depth + 1)
            bytes.append(contentsOf: member.key)
            append(": ")
            switch member.value {
            case .source(let position): relayValue(at: position, depth: depth + 1, in: scanner)
            case .literal(let literal): bytes.append(contentsOf: literal)
            }
        }
        newline(indent: depth)
        bytes.append(UInt8(ascii: "}"))
    }
}

/// An object's members as `JSON.parse` leaves them: duplicates folded (first
/// position, last value), array-index keys first in numeric order.
struct JSObjectLayout {
    /// A member value: still in the source, or replaced by ready bytes.
    enum Value {
        case source(Int)
        case literal([UInt8])
    }

    struct Member {
        /// The key as `JSON.stringify` writes it, quotes included.
        var key: [UInt8]
        var value: Value
    }

    var members: [Member] = []

    /// Reads the object at the cursor (its `{`) and moves past it.
    init(scanning cursor: inout JSONScanner) throws(JSONSyntaxError) {
        let source = cursor
        guard try cursor.enterObject(depth: 1) else { return }
        var seen: [[UInt8]: Int] = [:]
        repeat {
            let token = try cursor.memberKey()
            var key = StringifyWriter()
            key.appendString(token, in: source)
            let valueStart = cursor.position
            try cursor.skipValue(depth: 1)
            if let index = seen[key.bytes] {
                members[index].value = .source(valueStart)
            } else {
                seen[key.bytes] = members.count
                members.append(Member(key: key.bytes, value: .source(valueStart)))
            }
        } while try cursor.nextMember()
        orderIndexKeysFirst()
    }

    /// Sets `key` to a string (in place, or appended at the end), or removes
    /// it when `value` is nil, as a JavaScript assignment or `delete` does.
    mutating func set(_ key: String, to value: String?) {
        var quoted = StringifyWriter()
        quoted.appendString(key)
        guard let value else {
            members.removeAll { $0.key == quoted.bytes }
            return
        }
        var literal = StringifyWriter()
        literal.appendString(value)
        if let index = members.firstIndex(where: { $0.key == quoted.bytes }) {
            members[index].value = .literal(literal.bytes)
        } else {
            members.append(Member(key: quoted.bytes, value: .literal(literal.bytes)))
            orderIndexKeysFirst()
        }
    }

    /// Moves array-index keys to the front in ascending numeric order,
    /// keeping the other members in their order (ordinary object
    /// [[OwnPropertyKeys]]).
    mutating func orderIndexKeysFirst() {
        guard members.contains(where: { Self.arrayIndex($0.key) != nil }) else { return }
        var indexed: [(UInt64, Member)] = []
        var named: [Member] = []
        for member in members {
            if let number = Self.arrayIndex(member.key) { indexed.append((number, member)) } else { named.append(member) }
        }
        indexed.sort { $0.0 < $1.0 }
        members = indexed.map(\.1) + named
    }

    /// The array index a quoted key spells: a canonical decimal integer
    /// (no sign, no leading zero) up to 2^32 - 2; nil otherwise.
    static func arrayIndex(_ quoted: [UInt8]) -> UInt64? {
        let digits = quoted.dropFirst().dropLast()
        guard !digits.isEmpty, digits.count <= 10,
              digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              digits.count == 1 || digits.first != UInt8(ascii: "0") else { return nil }
        var value: UInt64 = 0
        for digit in digits { value = value * 10 + UInt64(digit - UInt8(ascii: "0")) }
        return value <= 4_294_967_294 ? value : nil
    }
}

/// Parses a whole document as `JSON.parse` accepts it (lone surrogate
/// escapes allowed; they decode to U+FFFD). For the small files botmux
/// writes besides its stores: bots.json, heartbeats.
func parseJavaScriptJSON(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
    try JSONValue.parse(bytes, allowingLoneSurrogates: true)
}
