public import VigilCore

/// A listing that knows more than live or not: the sessions a multiplexer
/// keeps but does not run (zellij's resurrectable sessions, herdr's stopped ones).
///
/// A dormant session is not live, so it probes as `missing`, with a reason
/// that says what is left of it.
public enum SessionInventory: Sendable, Hashable, RetryableAnswer {
    /// The complete listing: running names, and dormant names with what they are.
    case known(live: Set<String>, dormant: [String: String], source: String)
    /// No authoritative listing.
    case unknown(reason: String)

    /// Answers one name: `exists` when running, `missing` when dormant or
    /// absent, `unknown` when the listing failed. Matching is exact.
    public func probe(_ name: String) -> SessionProbe {
        answerer(name)
    }

    /// A lookup that answers any number of names from this inventory,
    /// sharing the reason strings of the common answers (running, absent).
    public var answerer: @Sendable (String) -> SessionProbe {
        switch self {
        case .known(let live, let dormant, let source):
            let running = SessionProbe.exists(reason: "listed as running by \(source)")
            let absent = SessionProbe.missing(reason: "not listed by \(source)")
            return { name in
                if live.contains(name) { return running }
                if let what = dormant[name] { return .missing(reason: "listed by \(source) as \(what), not running") }
                return absent
            }
        case .unknown(let reason):
            let answer = SessionProbe.unknown(reason: reason)
            return { _ in answer }
        }
    }

    /// The live set alone, as the protocol's `list()` reports it.
    public var listing: SessionListing {
        switch self {
        case .known(let live, _, let source): return .live(live, reason: source)
        case .unknown(let reason): return .unknown(reason: reason)
        }
    }

    /// A known listing is final; `unknown` may be retried.
    public var isAuthoritative: Bool {
        if case .known = self { return true }
        return false
    }
}

extension Retried where Answer == SessionInventory {
    /// The same attempts, time and usage, with the live set as the answer.
    var listing: Retried<SessionListing> {
        Retried<SessionListing>(answer: answer.listing, attempts: attempts, elapsed: elapsed, usage: usage)
    }

    /// The same attempts, time and usage, with one name's answer.
    func probe(_ name: String) -> Retried<SessionProbe> {
        Retried<SessionProbe>(answer: answer.probe(name), attempts: attempts, elapsed: elapsed, usage: usage)
    }
}
