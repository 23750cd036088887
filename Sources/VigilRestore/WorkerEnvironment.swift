public import VigilCore

/// Builds the environment workers start with, from the daemon's choice:
/// inherit everything (the default), or start from nothing, and set
/// `KEY=VALUE` pairs on top (`vigil restore --worker-env-clear --worker-env KEY=VALUE`).
public struct WorkerEnvironment: Sendable, Hashable {
    /// Start from an empty environment instead of the caller's.
    public var clear: Bool
    /// Variables set on top, in the order first given; a key given again
    /// takes the later value.
    public private(set) var assignments: [Assignment] = []

    /// One `KEY=VALUE`.
    public struct Assignment: Sendable, Hashable {
        /// The variable's name: not empty, no `=`, no NUL.
        public let key: String
        /// Its value: no NUL.
        public let value: String
    }

    /// An environment that inherits the caller's (`clear: false`) or starts empty.
    public init(clear: Bool = false) { self.clear = clear }

    /// Sets `key` to `value`.
    /// - Throws: `WorkerEnvironmentError` for an empty key, a key with `=`,
    ///   or a NUL byte in either.
    public mutating func set(_ key: String, _ value: String) throws(WorkerEnvironmentError) {
        if key.isEmpty { throw .emptyKey }
        if key.utf8.contains(UInt8(ascii: "=")) { throw .equalsInKey(key) }
        if key.utf8.contains(0) || value.utf8.contains(0) { throw .nulByte(key) }
        let entry = Assignment(key: key, value: value)
        if let i = assignments.firstIndex(where: { $0.key == key }) {
            assignments[i] = entry
        } else {
            assignments.append(entry)
        }
    }

    /// Sets a variable from `KEY=VALUE` text: the key ends at the first `=`,
    /// and the value may be empty or hold more `=`.
    /// - Throws: `WorkerEnvironmentError` when there is no `=`, or as `set(_:_:)`.
    public mutating func set(assignment text: String) throws(WorkerEnvironmentError) {
        guard let eq = text.firstIndex(of: "=") else { throw .notAnAssignment(text) }
        try set(String(text[..<eq]), String(text[text.index(after: eq)...]))
    }

    /// The environment to hand to `CommandWorkerLauncher`. Inheriting with
    /// nothing set is `.inherit` (the caller's environment at each launch);
    /// inheriting with variables set is a snapshot of the caller's
    /// environment taken now, with them applied.
    public var environment: Environment {
        if clear { return .exactly(assignments.map { ($0.key, $0.value) }) }
        if assignments.isEmpty { return .inherit }
        var setting: [String: String] = [:]
        for a in assignments { setting[a.key] = a.value }
        return .inherited(setting: setting)
    }
}

/// Why a worker environment variable was refused.
public enum WorkerEnvironmentError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The text has no `=`.
    case notAnAssignment(String)
    /// The key is empty (`=VALUE`).
    case emptyKey
    /// The key holds `=`.
    case equalsInKey(String)
    /// The key or the value holds a NUL byte (the key is named).
    case nulByte(String)

    /// One line for `Error: ...`.
    public var description: String {
        switch self {
        case .notAnAssignment(let text): return "worker environment entry '\(text)' is not KEY=VALUE"
        case .emptyKey: return "worker environment entry has an empty key"
        case .equalsInKey(let key): return "worker environment key '\(key)' contains '='"
        case .nulByte(let key):
            let shown = key.unicodeScalars.map { $0 == "\0" ? "\\0" : String($0) }.joined()
            return "worker environment entry '\(shown)' contains a NUL byte"
        }
    }
}
