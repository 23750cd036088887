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
        let utf8 = id.utf8
        if utf8.prefix(length + 1).allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            var name = prefix
            name.append(contentsOf: Substring(utf8.prefix(length)))
            return name
        }
        return prefix + id.prefix(length)
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
struct NameRules: Sendable {
    /// Characters refused anywhere, each with why.
    let forbidden: [(Character, String)]
    /// Characters refused in first place, each with why.
    let forbiddenFirst: [(Character, String)]
    /// When set, non-ASCII is refused with this reason.
    let asciiOnly: String?
    /// When set, leading or trailing white space is refused with this reason.
    let noSurroundingWhitespace: String?

    /// The ASCII characters of `forbidden` and `forbiddenFirst`, one bit per
    /// byte value, for checking printable ASCII names by bytes.
    private let forbiddenBytes: ASCIISet
    private let forbiddenFirstBytes: ASCIISet

    init(forbidden: [(Character, String)] = [], forbiddenFirst: [(Character, String)] = [],
         asciiOnly: String? = nil, noSurroundingWhitespace: String? = nil) {
        self.forbidden = forbidden
        self.forbiddenFirst = forbiddenFirst
        self.asciiOnly = asciiOnly
        self.noSurroundingWhitespace = noSurroundingWhitespace
        forbiddenBytes = ASCIISet(forbidden.map(\.0))
        forbiddenFirstBytes = ASCIISet(forbiddenFirst.map(\.0))
    }

    func validate(_ name: String, for backend: BackendKind) throws(SessionNameError) {
        if name.isEmpty {
            throw SessionNameError(code: .empty, name: name, backend: backend, detail: "the name is empty")
        }
        // Printable ASCII (nearly every name) holds no control character and
        // is one grapheme per byte: checked by bytes, without Unicode tables
        // (restore validates one name per record).
        let printableASCII = name.utf8.withContiguousStorageIfAvailable { $0.allSatisfy { $0 >= 0x20 && $0 < 0x7F } }
            ?? name.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
        if printableASCII {
            try validatePrintableASCII(name, for: backend)
            return
        }
        for scalar in name.unicodeScalars where scalar.properties.generalCategory == .control {
            let hex = String(scalar.value, radix: 16, uppercase: true)
            throw SessionNameError(
                code: .controlCharacter, name: name, backend: backend,
                detail: "it holds the control character U+\(String(repeating: "0", count: max(0, 4 - hex.count)))\(hex)")
        }
        if let first = name.first {
            for (c, why) in forbiddenFirst where c == first {
                throw SessionNameError(code: .forbiddenFirstCharacter, name: name, backend: backend,
                                       detail: "it starts with '\(c)', which \(why)")
            }
        }
        for (c, why) in forbidden where name.contains(c) {
            throw SessionNameError(code: .forbiddenCharacter, name: name, backend: backend,
                                   detail: "it holds '\(c)', which \(why)")
        }
        if let asciiOnly, name.utf8.contains(where: { $0 >= 0x80 }) {
            throw SessionNameError(code: .nonASCII, name: name, backend: backend, detail: asciiOnly)
        }
        if let noSurroundingWhitespace,
           name.first.map({ $0.isWhitespace }) == true || name.last.map({ $0.isWhitespace }) == true {
            throw SessionNameError(code: .surroundingWhitespace, name: name, backend: backend, detail: noSurroundingWhitespace)
        }
    }

    /// The same rules for a non-empty name of printable ASCII, by bytes: one
    /// byte is one character, and the only white space is the space.
    private func validatePrintableASCII(_ name: String, for backend: BackendKind) throws(SessionNameError) {
        let utf8 = name.utf8
        let first = utf8.first!
        if forbiddenFirstBytes.contains(first), let (c, why) = forbiddenFirst.first(where: { $0.0.asciiValue == first }) {
            throw SessionNameError(code: .forbiddenFirstCharacter, name: name, backend: backend,
                                   detail: "it starts with '\(c)', which \(why)")
        }
        if !forbiddenBytes.isEmpty {
            let held = utf8.withContiguousStorageIfAvailable { bytes in bytes.contains { forbiddenBytes.contains($0) } }
                ?? utf8.contains { forbiddenBytes.contains($0) }
            // The first rule in the table's order, as the general path reports it.
            if held, let (c, why) = forbidden.first(where: { $0.0.asciiValue.map(utf8.contains) ?? false }) {
                throw SessionNameError(code: .forbiddenCharacter, name: name, backend: backend,
                                       detail: "it holds '\(c)', which \(why)")
            }
        }
        if let noSurroundingWhitespace, first == 0x20 || utf8.last == 0x20 {
            throw SessionNameError(code: .surroundingWhitespace, name: name, backend: backend, detail: noSurroundingWhitespace)
        }
    }
}

/// A set of ASCII byte values (the rest of a character set is ignored).
struct ASCIISet: Sendable {
    private var low: UInt64 = 0
    private var high: UInt64 = 0

    init(_ characters: [Character]) {
        for c in characters {
            guard let value = c.asciiValue, c.unicodeScalars.count == 1 else { continue }
            if value < 64 { low |= 1 << value } else { high |= 1 << (value - 64) }
        }
    }

    var isEmpty: Bool { low == 0 && high == 0 }

    @inline(__always) func contains(_ byte: UInt8) -> Bool {
        byte < 64 ? low & (1 << byte) != 0 : byte < 128 && high & (1 << (byte - 64)) != 0
    }
}
