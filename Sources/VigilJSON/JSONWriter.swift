// The serializer. It appends to one growing byte buffer (the store's commit
// writes that buffer with a few large write(2) calls) and never goes through
// String concatenation. Numbers are written as their kept source text;
// strings escape only what RFC 8259 requires (`"`, `\` and control
// characters) and keep non-ASCII UTF-8 as it is.

/// How serialized JSON is laid out.
public enum JSONStyle: Sendable, Hashable {
    /// No whitespace at all: `{"a":1,"b":[true,null]}`.
    case compact
    /// Two-space indentation, one member or element per line, `"key": value`.
    case pretty
}

extension JSONValue {
    /// The value serialized as UTF-8 bytes.
    /// - Parameter style: compact (default) or pretty.
    public func serialized(_ style: JSONStyle = .compact) -> [UInt8] {
        var writer = JSONWriter()
        writer.write(self, style: style, indent: 0)
        return writer.bytes
    }

    /// The value serialized as text.
    /// - Parameter style: compact (default) or pretty.
    public func jsonText(_ style: JSONStyle = .compact) -> String {
        String(decoding: serialized(style), as: UTF8.self)
    }
}

/// Appends JSON to a byte buffer.
package struct JSONWriter {
    package var bytes: [UInt8] = []
    /// The last strings quoted by `writeRepeatedString`, with their bytes.
    private var recent: [(text: String, quoted: [UInt8])] = []

    package init(reservingCapacity capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    package mutating func write(_ value: JSONValue, style: JSONStyle, indent: Int) {
        switch value {
        case .null: append("null")
        case .bool(let flag): append(flag ? "true" : "false")
        case .number(let text): appendUTF8(of: text)
        case .string(let text): writeString(text)
        case .array(let elements): writeArray(elements, style: style, indent: indent)
        case .object(let object): writeObject(object, style: style, indent: indent)
        }
    }

    package mutating func writeArray(_ elements: [JSONValue], style: JSONStyle, indent: Int) {
        bytes.append(UInt8(ascii: "["))
        if elements.isEmpty {
            bytes.append(UInt8(ascii: "]"))
            return
        }
        for (index, element) in elements.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            if style == .pretty { newline(indent: indent + 1) }
            write(element, style: style, indent: indent + 1)
        }
        if style == .pretty { newline(indent: indent) }
        bytes.append(UInt8(ascii: "]"))
    }

    package mutating func writeObject(_ object: JSONObject, style: JSONStyle, indent: Int) {
        bytes.append(UInt8(ascii: "{"))
        if object.isEmpty {
            bytes.append(UInt8(ascii: "}"))
            return
        }
        for (index, member) in object.members.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            if style == .pretty { newline(indent: indent + 1) }
            writeString(member.key)
            bytes.append(UInt8(ascii: ":"))
            if style == .pretty { bytes.append(UInt8(ascii: " ")) }
            write(member.value, style: style, indent: indent + 1)
        }
        if style == .pretty { newline(indent: indent) }
        bytes.append(UInt8(ascii: "}"))
    }

    package mutating func newline(indent: Int) {
        bytes.append(UInt8(ascii: "\n"))
        for _ in 0..<indent {
            bytes.append(UInt8(ascii: " "))
            bytes.append(UInt8(ascii: " "))
        }
    }

    /// A quoted, escaped string. Runs of bytes that need no escape are copied
    /// in one go. The escapes are exactly `JSON.stringify`'s for a string
    /// without lone surrogates (`\b \f \n \r \t \" \\`, `\u00xx` in lower
    /// case for other control characters, nothing else escaped), so the
    /// botmux writer uses it too.
    package mutating func writeString(_ text: String) {
        Self.appendQuoted(text, to: &bytes)
    }

    /// `writeString` for a value written over and over (the same close
    /// reason on thousands of records): the last few are kept quoted, and a
    /// String that shares its storage with a kept one compares in O(1).
    package mutating func writeRepeatedString(_ text: String) {
        for entry in recent where entry.text == text {
            bytes.append(contentsOf: entry.quoted)
            return
        }
        var quoted: [UInt8] = []
        Self.appendQuoted(text, to: &quoted)
        bytes.append(contentsOf: quoted)
        if recent.count == 4 { recent.removeFirst() }
        recent.append((text, quoted))
    }

    /// `writeString` onto any byte buffer.
    package static func appendQuoted(_ text: String, to bytes: inout [UInt8]) {
        var text = text
        bytes.append(UInt8(ascii: "\""))
        text.withUTF8 { utf8 in
            var runStart = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
                runStart = index + 1
                bytes.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\"))
                case 0x0A: bytes.append(UInt8(ascii: "n"))
                case 0x0D: bytes.append(UInt8(ascii: "r"))
                case 0x09: bytes.append(UInt8(ascii: "t"))
                case 0x08: bytes.append(UInt8(ascii: "b"))
                case 0x0C: bytes.append(UInt8(ascii: "f"))
                default:
                    let digits: [UInt8] = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                              digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<utf8.count]))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    package mutating func append(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    package mutating func appendUTF8(of text: String) {
        var text = text
        text.withUTF8 { bytes.append(contentsOf: $0) }
    }
}
