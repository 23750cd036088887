// The JSON model on its own: what the parser accepts and rejects, where it
// says the error is, and what the serializer writes.

import VigilJSON
import Testing

@Suite struct JSONParsingTests {
    @Test func numbersKeepTheirSourceText() throws {
        let text = #"[1.0, 1e400, 12345678901234567890, -0, 0.5e-3, 2E+10, -12.5]"#
        let value = try JSONValue.parse(text)
        #expect(value == .array([
            .number("1.0"), .number("1e400"), .number("12345678901234567890"), .number("-0"),
            .number("0.5e-3"), .number("2E+10"), .number("-12.5"),
        ]))
        #expect(value.jsonText() == #"[1.0,1e400,12345678901234567890,-0,0.5e-3,2E+10,-12.5]"#)
    }

    @Test func objectsKeepOrderAndDuplicates() throws {
        let value = try JSONValue.parse(#"{"z": 1, "a": 2, "m": {"y": [], "b": {}}, "a": 3}"#)
        guard case .object(let object) = value else { Issue.record("not an object"); return }
        #expect(object.members.map(\.key) == ["z", "a", "m", "a"])
        #expect(object["a"] == .number("2"))
        #expect(value.jsonText() == #"{"z":1,"a":2,"m":{"y":[],"b":{}},"a":3}"#)
    }

    @Test func escapesAndUnicodeDecode() throws {
        let value = try JSONValue.parse(#"["caf\u00e9", "\ud83d\ude00", "\"\\\/\b\f\n\r\t", "naïve 日本語 😀"]"#)
        #expect(value == .array([
            .string("café"), .string("😀"), .string("\"\\/\u{08}\u{0C}\n\r\t"), .string("naïve 日本語 😀"),
        ]))
    }

    @Test func escapedKeysCompareDecoded() throws {
        let value = try JSONValue.parse(#"{"\u0069d": "x"}"#)
        #expect(value.objectValue?["id"] == .string("x"))
    }

    @Test func depthLimitIsEnforced() throws {
        let ok = String(repeating: "[", count: JSONValue.maximumDepth) + String(repeating: "]", count: JSONValue.maximumDepth)
        _ = try JSONValue.parse(ok)
        let deep = "[" + ok + "]"
        #expect(throws: JSONParseError.self) { try JSONValue.parse(deep) }
    }

    @Test func errorPositionIsLineAndColumn() {
        let text = "{\n  \"a\": 1,\n  \"b\" 2\n}"
        do {
            _ = try JSONValue.parse(text)
            Issue.record("parsed invalid JSON")
        } catch {
            #expect(error.line == 3)
            #expect(error.column == 7)
            #expect(error.description == "line 3, column 7: expected ':' after an object key, found '2'")
        }
    }

    @Test func columnsCountCharactersNotBytes() {
        do {
            _ = try JSONValue.parse("[\"日本\", x]")
            Issue.record("parsed invalid JSON")
        } catch {
            #expect(error.line == 1)
            #expect(error.column == 8)
        }
    }

    /// One row per way to be invalid: input, and a fragment of the message.
    static let invalidInputs: [(String, String)] = [
        ("", "expected a value, found end of file"),
        ("   ", "expected a value"),
        ("01", "leading zeros"),
        ("-", "expected a digit"),
        ("1.", "after the decimal point"),
        ("1e", "in the exponent"),
        (".5", "expected a value"),
        ("+1", "expected a value"),
        ("[1,]", "expected a value, found ']'"),
        (#"{"a":1,}"#, "trailing commas are not allowed"),
        ("{'a':1}", "expected a string key"),
        ("NaN", "expected a value"),
        ("tru", "invalid literal"),
        ("{} x", "unexpected data after the end of the document"),
        ("[1] [2]", "unexpected data after the end of the document"),
        ("\"abc", "unterminated string"),
        ("\"a\u{01}b\"", "control character U+0001"),
        ("\"a\nb\"", "control character U+000A"),
        (#""\x""#, "invalid escape sequence"),
        (#""\u12G4""#, "four hex digits"),
        (#""\ud800""#, "not followed by a low surrogate"),
        (#""\ud800\u0041""#, "not followed by a low surrogate"),
        (#""\udc00""#, "lone low surrogate"),
        ("\u{FEFF}{}", "byte-order mark"),
        ("[1 2]", "expected ',' or ']'"),
        (#"{"a" 1}"#, "expected ':'"),
        (#"{"a":1 "b":2}"#, "expected ',' or '}'"),
        ("// comment\n{}", "expected a value"),
    ]

    @Test(arguments: invalidInputs)
    func rejects(_ input: String, _ fragment: String) {
        do {
            _ = try JSONValue.parse(input)
            Issue.record("accepted \(input.debugDescription)")
        } catch {
            #expect(error.message.contains(fragment), "\(error)")
        }
    }

    @Test(arguments: [
        [0x22, 0xC3, 0x22] as [UInt8],        // truncated 2-byte sequence
        [0x22, 0xC0, 0xAF, 0x22],              // overlong '/'
        [0x22, 0xED, 0xA0, 0x80, 0x22],        // UTF-8 encoded surrogate
        [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],  // above U+10FFFF
        [0x22, 0xFF, 0x22],
    ])
    func rejectsInvalidUTF8(_ bytes: [UInt8]) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(bytes) }
    }
}

@Suite struct JSONWritingTests {
    @Test func escapesOnlyWhatMustBeEscaped() {
        let value = JSONValue.string("q\"b\\s/ñ😀\u{01}\n\t\u{1F}")
        #expect(value.jsonText() == #""q\"b\\s/ñ😀\u0001\n\t\u001f""#)
    }

    @Test func serializedStringsParseBack() throws {
        let original = JSONValue.array([.string("\u{00}\u{7F}\u{2028}end"), .string(""), .object([:])])
        #expect(try JSONValue.parse(original.serialized()) == original)
    }

    @Test func prettyUsesTwoSpaces() {
        let value = JSONValue.object(["a": .integer(1), "b": .array([.bool(true), .null]), "c": .object([:]), "d": .array([])])
        #expect(value.jsonText(.pretty) == """
        {
          "a": 1,
          "b": [
            true,
            null
          ],
          "c": {},
          "d": []
        }
        """)
    }

    @Test func keyedSubscriptUpdatesInPlaceAppendsAndRemoves() {
        var object: JSONObject = ["a": .integer(1), "b": .integer(2), "a": .integer(3)]
        object["b"] = .string("x")
        object["c"] = .null
        #expect(object.members.map(\.key) == ["a", "b", "a", "c"])
        #expect(object["b"] == .string("x"))
        object["a"] = nil
        #expect(object.members.map(\.key) == ["b", "c"])
    }
}

@Suite struct JSONReaderOptionsTests {
    @Test func aShallowerLimitIsEnforced() throws {
        let deep = String(repeating: "[", count: 20) + String(repeating: "]", count: 20)
        #expect(try JSONValue.parse(Array(deep.utf8), maximumDepth: 20) == JSONValue.parse(deep))
        #expect(throws: JSONParseError.self) { try JSONValue.parse(Array(deep.utf8), maximumDepth: 19) }
    }

    @Test func duplicateKeysAreFoundAtAnyDepth() throws {
        #expect(try JSONValue.parse(#"{"a": 1, "b": [{"c": 1}]}"#).firstDuplicateKey == nil)
        #expect(try JSONValue.parse(#"{"a": 1, "a": 2}"#).firstDuplicateKey == "a")
        #expect(try JSONValue.parse(#"{"a": [{"x": {"k": 1, "k": 2}}]}"#).firstDuplicateKey == "k")
        #expect(try JSONValue.parse(#"{"a": {"k": 1}, "b": {"k": 2}}"#).firstDuplicateKey == nil)
    }

    @Test func memberLookupOnAValue() throws {
        let v = try JSONValue.parse(#"{"s": [1], "s": 2}"#)
        #expect(v["s"] == .array([.number("1")]))
        #expect(v["t"] == nil)
        #expect(JSONValue.array([])["s"] == nil)
    }
}
