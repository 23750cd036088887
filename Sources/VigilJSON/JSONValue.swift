// An order-preserving JSON model. The store belongs to another program (the
// chat daemon), so anything Vigil does not understand must come back out as it
// went in: object members keep their order (and duplicates), and numbers keep
// their source text, so `1.0`, `1e400` and `12345678901234567890` are not
// rounded through a Double.

/// One JSON value, with object member order and number text preserved.
///
/// Equality is structural over the source text: `.number("1.0")` is not equal
/// to `.number("1")`, and objects compare member by member, in order.
public enum JSONValue: Sendable, Hashable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number, kept as its exact source text (valid RFC 8259 number syntax).
    case number(String)
    /// A string, unescaped.
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object: members in source order.
    case object(JSONObject)

    /// The string if this is `.string`, else nil.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The members if this is `.object`, else nil.
    public var objectValue: JSONObject? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// The elements if this is `.array`, else nil.
    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The first member named `key` if this is an object, else nil.
    public subscript(key: String) -> JSONValue? {
        objectValue?[key]
    }

    /// The first object key, anywhere in the value, that appears twice in
    /// its object; nil when there is none. For readers that must refuse
    /// ambiguous documents (the parser keeps duplicates, as written).
    public var firstDuplicateKey: String? {
        switch self {
        case .object(let object):
            var seen = Set<String>()
            for member in object.members {
                if !seen.insert(member.key).inserted { return member.key }
                if let inner = member.value.firstDuplicateKey { return inner }
            }
            return nil
        case .array(let elements):
            for element in elements { if let inner = element.firstDuplicateKey { return inner } }
            return nil
        default:
            return nil
        }
    }

    /// A number from an integer, e.g. `.integer(1)` is `.number("1")`.
    public static func integer(_ value: Int) -> JSONValue { .number(String(value)) }

    /// A word for messages: "a string", "an object", "null".
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

/// One `"key": value` member of a JSON object.
public struct JSONMember: Sendable, Hashable {
    /// The key, unescaped.
    public var key: String
    /// The value.
    public var value: JSONValue

    /// Creates a member.
    public init(_ key: String, _ value: JSONValue) {
        self.key = key
        self.value = value
    }
}

/// A JSON object as an ordered list of members.
///
/// Duplicate keys are kept as they came (RFC 8259 only says keys SHOULD be
/// unique); the keyed subscript reads and updates the first one.
public struct JSONObject: Sendable, Hashable, RandomAccessCollection, MutableCollection, ExpressibleByDictionaryLiteral {
    /// The members in order.
    public var members: [JSONMember]

    /// Creates an object from members in order.
    public init(_ members: [JSONMember] = []) { self.members = members }

    /// Creates an object from a literal, keeping the literal's order.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        members = elements.map { JSONMember($0.0, $0.1) }
    }

    /// The first position.
    public var startIndex: Int { members.startIndex }
    /// One past the last position.
    public var endIndex: Int { members.endIndex }
    /// The member at `position`.
    public subscript(position: Int) -> JSONMember {
        get { members[position] }
        set { members[position] = newValue }
    }

    /// The value of the first member named `key`.
    ///
    /// Setting a value updates the first such member in place, or appends a
    /// member at the end if there is none; setting nil removes every member
    /// named `key`.
    public subscript(key: String) -> JSONValue? {
        get { members.first(where: { $0.key == key })?.value }
        set {
            guard let newValue else {
                members.removeAll { $0.key == key }
                return
            }
            if let index = members.firstIndex(where: { $0.key == key }) {
                members[index].value = newValue
            } else {
                members.append(JSONMember(key, newValue))
            }
        }
    }

    /// Appends a member at the end, even if the key is already present.
    public mutating func append(_ key: String, _ value: JSONValue) {
        members.append(JSONMember(key, value))
    }
}
