import Synchronization

/// The gates of one reactor, by key; made on first use, kept for the
/// reactor's life (one per server asked, so a handful).
final class GateTable: Sendable {
    private let gates = Mutex<[String: ConcurrencyGate]>([:])

    func gate(for key: String, limit: Int) -> ConcurrencyGate {
        gates.withLock { table in
            if let gate = table[key] { return gate }
            let gate = ConcurrencyGate(limit: limit)
            table[key] = gate
            return gate
        }
    }
}

extension SpawnReactor {
    /// The gate named `key`, shared by every user of this reactor (and so of
    /// every `Spawner` that shares it): how a backend bounds the calls in
    /// flight to one server, however many backend values ask it.
    ///
    /// - Parameters:
    ///   - key: what identifies the resource, e.g. a tmux socket.
    ///   - limit: holders at once; the first call for a key sets it.
    public func gate(for key: String, limit: Int) -> ConcurrencyGate {
        gates.gate(for: key, limit: limit)
    }
}
