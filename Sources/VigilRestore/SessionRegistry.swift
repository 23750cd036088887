public import VigilBackends
import Synchronization

/// The daemon's in-memory view of its active sessions.
///
/// Restore evicts the sessions it closes and registers the ones it keeps,
/// with the worker pid where it launched one. Thread-safe; owned by the
/// embedding daemon (nothing global).
public final class SessionRegistry: Sendable {
    /// One active session.
    public struct Entry: Sendable, Hashable {
        /// The store record's id.
        public var id: String
        /// The multiplexer: `tmux`, `zellij` or `herdr`.
        public var backend: BackendKind
        /// The multiplexer session name.
        public var backendSession: String
        /// The worker attached to it, if one runs.
        public var workerPID: Int32?

        /// Creates an entry.
        public init(id: String, backend: BackendKind, backendSession: String, workerPID: Int32? = nil) {
            self.id = id
            self.backend = backend
            self.backendSession = backendSession
            self.workerPID = workerPID
        }
    }

    private let entries = Mutex<[String: Entry]>([:])

    /// An empty registry.
    public init() {}

    /// Adds or replaces the entry for `entry.id`.
    public func register(_ entry: Entry) { entries.withLock { $0[entry.id] = entry } }

    /// Removes `id`; returns the entry it had.
    @discardableResult
    public func evict(_ id: String) -> Entry? {
        // Restore evicts every session it closes, mostly from a registry that
        // never held them: an empty one answers without hashing the id.
        entries.withLock { $0.isEmpty ? nil : $0.removeValue(forKey: id) }
    }

    /// Evicts each of `ids`; when the registry is empty, `ids` is not even
    /// read (restore closes whole stores of sessions nobody registered).
    func evict(_ ids: some Sequence<String>) {
        guard count > 0 else { return }
        for id in ids { _ = evict(id) }
    }

    /// The entry for `id`.
    public func entry(_ id: String) -> Entry? { entries.withLock { $0[id] } }

    /// All entries, in no particular order.
    public var all: [Entry] { entries.withLock { Array($0.values) } }

    /// How many sessions are registered.
    public var count: Int { entries.withLock { $0.count } }
}
