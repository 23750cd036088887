/// How a session id becomes a multiplexer session name, the same way everywhere.
///
/// The default is `bmx-` followed by the first 8 characters of the id, so
/// `3f9a1c2e-...` becomes `bmx-3f9a1c2e`.
public struct SessionNaming: Sendable, Hashable {
    /// Put before the shortened id; `bmx-` by default.
    public var prefix: String
    /// How many characters of the id to keep; 8 by default.
    public var length: Int

    /// Creates a naming scheme.
    /// - Parameters:
    ///   - prefix: text before the id; `bmx-` by default.
    ///   - length: characters of the id kept (at least 1); 8 by default.
    public init(prefix: String = "bmx-", length: Int = 8) {
        self.prefix = prefix
        self.length = max(1, length)
    }

    /// The scheme every Vigil component uses unless configured otherwise.
    public static let standard = SessionNaming()

    /// The session name for `id`: the prefix and the first `length`
    /// characters of the id (the whole id when it is shorter).
    ///
    /// The result is not validated here: pass it to a backend's `validate(_:)`.
    public func name(forID id: String) -> String {
        // An id of printable ASCII (nearly every one) is one character per
        // byte as far as the cut goes (the byte after it included, which
        // could otherwise join the last one): cut by bytes, without
        // grapheme breaking.
        var id = id
        if let name = id.withUTF8({ name(forIDBytes: $0) }) { return name }
        return prefix + id.prefix(length)
    }

    /// `name(forID:)` from the id's UTF-8 bytes, when the cut lies in
    /// printable ASCII (nil otherwise: then ask with the id as a String).
    public func name(forIDBytes id: UnsafeBufferPointer<UInt8>) -> String? {
        let cut = length < Int.max ? min(id.count, length + 1) : id.count
        guard UnsafeBufferPointer(rebasing: id[..<cut]).allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return nil }
        // Made in one go from the bytes (the prefix is valid UTF-8, the id's
        // part printable ASCII), not as a String appended to another.
        let kept = UnsafeBufferPointer(rebasing: id[..<min(id.count, length)])
        var prefix = prefix
        return prefix.withUTF8 { head in
            String(unsafeUninitializedCapacity: head.count + kept.count) { buffer in
                _ = UnsafeMutableBufferPointer(rebasing: buffer[..<head.count]).initialize(from: head)
                _ = UnsafeMutableBufferPointer(rebasing: buffer[head.count...]).initialize(from: kept)
                return head.count + kept.count
            }
        }
    }
}

/// A session name a backend refuses to send, and why.
public struct SessionNameError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of problem, stable for programs.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// The name is empty.
        case empty
        /// The name holds a control character (C0, DEL or C1).
        case controlCharacter
        /// The name holds a character the multiplexer rewrites or reads specially.
        case forbiddenCharacter
        /// The name starts with a character the multiplexer reads specially.
        case forbiddenFirstCharacter
        /// The name holds non-ASCII text that the multiplexer does not list exactly.
        case nonASCII
        /// The name starts or ends with white space, which the listing does not keep exactly.
        case surroundingWhitespace
    }

    /// What is wrong.
    public var code: Code
    /// The name as given.
    public var name: String
    /// The backend that refused it.
    public var backend: BackendKind
    /// Why, in words: "':' separates session from window in a tmux target".
    public var detail: String

    /// Creates an error.
    public init(code: Code, name: String, backend: BackendKind, detail: String) {
        self.code = code
        self.name = name
        self.backend = backend
        self.detail = detail
    }

    /// `invalid tmux session name "a:b": ...`, with control characters escaped.
    public var description: String {
        "invalid \(backend) session name \(name.debugDescription): \(detail)"
    }
}

/// The checks shared by every backend, plus each backend's own characters.
///
/// A forbidden character that is one ASCII byte is looked for as that byte,
/// wherever it stands: a `/` followed by a combining mark is one Character
/// that does not equal `/`, but the multiplexer still sees the `/` byte.
/// Other forbidden characters are compared as Characters (canonical
/// equivalence included).
struct NameRules: Sendable {
    /// One refused character, with why.
    struct Rule: Sendable {
        let character: Character
        /// The character's byte, when it is one ASCII scalar.
        let byte: UInt8?
        let why: String

        init(_ entry: (Character, String)) {
            character = entry.0
            byte = entry.0.unicodeScalars.count == 1 ? entry.0.asciiValue : nil
            why = entry.1
        }
    }

    /// Characters refused anywhere, in the order they are reported.
    let forbidden: [Rule]
    /// Characters refused in first place, in the order they are reported.
    let forbiddenFirst: [Rule]
    /// When set, non-ASCII is refused with this reason.
    let asciiOnly: String?
    /// When set, leading or trailing white space is refused with this reason.
    let noSurroundingWhitespace: String?
    /// The ASCII bytes of `forbidden` and of `forbiddenFirst`, one bit
    /// each (bit n of word n / 64): a printable-ASCII name none of whose
    /// bytes is set needs no rule-by-rule check.
    private let forbiddenBytes: (UInt64, UInt64)
    private let forbiddenFirstBytes: (UInt64, UInt64)

    init(forbidden: [(Character, String)] = [], forbiddenFirst: [(Character, String)] = [],
         asciiOnly: String? = nil, noSurroundingWhitespace: String? = nil) {
        self.forbidden = forbidden.map(Rule.init)
        self.forbiddenFirst = forbiddenFirst.map(Rule.init)
        self.asciiOnly = asciiOnly
        self.noSurroundingWhitespace = noSurroundingWhitespace
        func bits(_ rules: [Rule]) -> (UInt64, UInt64) {
            var words: (UInt64, UInt64) = (0, 0)
            for byte in rules.compactMap(\.byte) {
                if byte < 64 { words.0 |= 1 << byte } else { words.1 |= 1 << (byte - 64) }
            }
            return words
        }
        forbiddenBytes = bits(self.forbidden)
        forbiddenFirstBytes = bits(self.forbiddenFirst)
    }

    /// Whether `bytes` (printable ASCII) may break a rule of `forbidden`
    /// or `forbiddenFirst` (checked one by one then).
    private func mayBreakForbidden(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        func has(_ words: (UInt64, UInt64), _ byte: UInt8) -> Bool {
            byte < 64 ? words.0 & (1 << byte) != 0 : words.1 & (1 << (byte &- 64)) != 0
        }
        if let first = bytes.first, has(forbiddenFirstBytes, first) { return true }
        return bytes.contains { has(forbiddenBytes, $0) }
    }

    func validate(_ name: String, for backend: BackendKind) throws(SessionNameError) {
        if name.isEmpty {
            throw SessionNameError(code: .empty, name: name, backend: backend, detail: "the name is empty")
        }
        // Printable ASCII (nearly every name) holds no control character, no
        // non-ASCII and no white space but the space: those checks by bytes,
        // without Unicode tables (restore validates one name per record).
        let printableASCII = name.utf8.withContiguousStorageIfAvailable { $0.allSatisfy { $0 >= 0x20 && $0 < 0x7F } }
            ?? name.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
        if !printableASCII {
            for scalar in name.unicodeScalars where scalar.properties.generalCategory == .control {
                let hex = String(scalar.value, radix: 16, uppercase: true)
                throw SessionNameError(
                    code: .controlCharacter, name: name, backend: backend,
                    detail: "it holds the control character U+\(String(repeating: "0", count: max(0, 4 - hex.count)))\(hex)")
            }
        }
        // A printable-ASCII name: only a rule with an ASCII byte can match
        // it (a non-ASCII or many-scalar Character cannot), so a name
        // holding none of those bytes passes without the rule-by-rule walk.
        let mayBreak = !printableASCII
            || (name.utf8.withContiguousStorageIfAvailable { mayBreakForbidden($0) } ?? Array(name.utf8).withUnsafeBufferPointer { mayBreakForbidden($0) })
        if mayBreak { try checkForbidden(name, for: backend) }
        if printableASCII {
            if let noSurroundingWhitespace, name.utf8.first == 0x20 || name.utf8.last == 0x20 {
                throw SessionNameError(code: .surroundingWhitespace, name: name, backend: backend, detail: noSurroundingWhitespace)
            }
            return
        }
        if let asciiOnly, name.utf8.contains(where: { $0 >= 0x80 }) {
            throw SessionNameError(code: .nonASCII, name: name, backend: backend, detail: asciiOnly)
        }
        if let noSurroundingWhitespace,
           name.first.map({ $0.isWhitespace }) == true || name.last.map({ $0.isWhitespace }) == true {
            throw SessionNameError(code: .surroundingWhitespace, name: name, backend: backend, detail: noSurroundingWhitespace)
        }
    }

    /// The forbidden characters, first place then anywhere, each table in
    /// its order: an ASCII one as its byte, any other as a Character.
    private func checkForbidden(_ name: String, for backend: BackendKind) throws(SessionNameError) {
        let utf8 = name.utf8
        for rule in forbiddenFirst where rule.byte.map({ utf8.first == $0 }) ?? (name.first == rule.character) {
            throw SessionNameError(code: .forbiddenFirstCharacter, name: name, backend: backend,
                                   detail: "it starts with '\(rule.character)', which \(rule.why)")
        }
        for rule in forbidden {
            let held = rule.byte.map { byte in
                utf8.withContiguousStorageIfAvailable { $0.contains(byte) } ?? utf8.contains(byte)
            } ?? name.contains(rule.character)
            guard held else { continue }
            throw SessionNameError(code: .forbiddenCharacter, name: name, backend: backend,
                                   detail: "it holds '\(rule.character)', which \(rule.why)")
        }
    }
}
