/// The honest answer to "does session X exist?".
///
/// Only a probe that ran and got an authoritative "no such session" may say
/// `missing`. A spawn failure, a signal, a timeout, an unrecognised exit code
/// or unreadable output is `unknown`, and `unknown` must never destroy anything.
public enum SessionProbe: Sendable, Hashable, CustomStringConvertible {
    /// The multiplexer says the session is alive.
    case exists(reason: String)
    /// The multiplexer ran and said, authoritatively, that there is no such live session.
    case missing(reason: String)
    /// No authoritative answer: keep everything as it is.
    case unknown(reason: String)

    /// The state without its reason.
    public var state: SessionState {
        switch self {
        case .exists: return .exists
        case .missing: return .missing
        case .unknown: return .unknown
        }
    }

    /// Why the probe answered as it did.
    public var reason: String {
        switch self {
        case .exists(let r), .missing(let r), .unknown(let r): return r
        }
    }

    /// True only for `exists`: the thin boolean wrapper. `unknown` is not `true`,
    /// and callers that must not destroy on `unknown` need `state`, not this.
    public var isLive: Bool { state == .exists }

    /// `"exists (reason)"`.
    public var description: String { "\(state.rawValue) (\(reason))" }
}

/// The three states, for tables, JSON and exit codes.
public enum SessionState: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case exists
    case missing
    case unknown

    /// The word the command line prints: `exists`, `missing`, `unknown`.
    public var description: String { rawValue }
}

/// The answer of a listing call: an authoritative set of live names, or unknown.
public enum SessionListing: Sendable, Hashable {
    /// The complete set of live session names, as the multiplexer reported it.
    case live(Set<String>, reason: String)
    /// No authoritative list.
    case unknown(reason: String)

    /// Answers one name from the listing: `exists`/`missing` from the set, or `unknown`.
    public func probe(_ name: String) -> SessionProbe {
        answerer(name)
    }

    /// A lookup that answers any number of names from this listing. The
    /// answers share their reason strings, so answering 100,000 names
    /// allocates two reasons, not 100,000.
    public var answerer: @Sendable (String) -> SessionProbe {
        switch self {
        case .live(let names, let reason):
            let listed = SessionProbe.exists(reason: "listed by \(reason)")
            let absent = SessionProbe.missing(reason: "not listed by \(reason)")
            return { names.contains($0) ? listed : absent }
        case .unknown(let reason):
            let answer = SessionProbe.unknown(reason: reason)
            return { _ in answer }
        }
    }
}

/// A result that can be retried: authoritative answers end the retry loop.
public protocol RetryableAnswer: Sendable {
    /// True for `exists`/`missing` (or a live listing): no retry.
    var isAuthoritative: Bool { get }
}

extension SessionProbe: RetryableAnswer {
    /// `exists` and `missing` are final; `unknown` may be retried.
    public var isAuthoritative: Bool { state != .unknown }
}

extension SessionListing: RetryableAnswer {
    /// A live listing is final; `unknown` may be retried.
    public var isAuthoritative: Bool {
        if case .live = self { return true }
        return false
    }
}
