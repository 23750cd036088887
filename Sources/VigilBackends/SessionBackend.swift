public import VigilCore
// `BackendKind` (a backend's `kind`) is shared with the store module;
// re-exported so that `import VigilBackends` names it.
@_exported public import VigilBackendKind

/// One multiplexer, asked the honest question "does session X exist?".
///
/// Every answer is `exists`, `missing` or `unknown`, with a reason. Only an
/// authoritative "no such session" from a multiplexer that ran is `missing`;
/// anything else that is not `exists` is `unknown`, and `unknown` must never
/// destroy anything. `unknown` answers are retried with the backend's
/// `RetryPolicy`; `exists` and `missing` return at once.
///
/// Names are checked with `validate(_:)` before anything is sent. A name the
/// multiplexer cannot hold or look up exactly is never sent: `probe` answers
/// `unknown` for it with zero attempts, `kill` answers `.rejected`. Callers
/// that can report a usage error (the CLI exits 64) call `validate` first.
public protocol SessionBackend: Sendable {
    /// Which multiplexer this is.
    var kind: BackendKind { get }

    /// Checks that `name` can be sent to this multiplexer and looked up exactly.
    /// - Throws: `SessionNameError` naming the problem (empty, a control
    ///   character, a character the multiplexer rewrites or reads specially).
    func validate(_ name: String) throws(SessionNameError)

    /// Asks whether session `name` is alive, retrying `unknown`.
    /// - Returns: the answer with the attempts it took; for a name that fails
    ///   `validate`, `unknown` ("invalid ... session name ...") with 0 attempts.
    func probe(_ name: String) async -> Retried<SessionProbe>

    /// The blocking form of `probe(_:)`, for callers without an async context.
    func probeSynchronously(_ name: String) -> Retried<SessionProbe>

    /// The authoritative set of live session names, or `unknown`, retrying `unknown`.
    func list() async -> Retried<SessionListing>

    /// The blocking form of `list()`.
    func listSynchronously() -> Retried<SessionListing>

    /// Answers many names with one listing call.
    ///
    /// Each valid name is `exists` or `missing` from the listing, or every
    /// name is `unknown` when the listing failed. Names failing `validate` are
    /// `unknown` whatever the listing says.
    func probeAll(_ names: [String]) async -> (listing: Retried<SessionListing>, answers: [String: SessionProbe])

    /// One listing call, and an exact lookup that answers any number of
    /// names from it without building a table: what a restore of 100,000
    /// records uses. `probeAll` is this plus validation and a dictionary.
    func lookup() async -> SessionLookup

    /// Stops session `name` and removes what the multiplexer keeps of it.
    /// - Returns: `killed`, `alreadyGone` (authoritatively not there),
    ///   `failed` (state unknown; retried like a probe) or `rejected` (invalid name, nothing sent).
    func kill(_ name: String) async -> KillResult
}

extension SessionBackend {
    /// True only when the probe answers `exists`. `unknown` is `false` here,
    /// so callers that must not destroy on `unknown` need `probe(_:)` instead.
    public func hasSession(_ name: String) async -> Bool {
        await probe(name).answer.isLive
    }

    /// The blocking form of `hasSession(_:)`.
    public func hasSessionSynchronously(_ name: String) -> Bool {
        probeSynchronously(name).answer.isLive
    }

    /// True when `validate(_:)` accepts `name`.
    public func isValid(_ name: String) -> Bool {
        do { try validate(name); return true } catch { return false }
    }

    /// The default `lookup`: one `list()`, names answered from its set.
    public func lookup() async -> SessionLookup {
        let listing = await list()
        return SessionLookup(listing: listing, answer: listing.answer.answerer)
    }

    /// The default `probeAll`: one `lookup()`, then each valid name answered from it.
    public func probeAll(_ names: [String]) async -> (listing: Retried<SessionListing>, answers: [String: SessionProbe]) {
        let found = await lookup()
        let listing = found.listing
        let answer = found.answer
        var answers: [String: SessionProbe] = [:]
        answers.reserveCapacity(names.count)
        for name in names {
            do throws(SessionNameError) {
                try validate(name)
                answers[name] = answer(name)
            } catch {
                answers[name] = .unknown(reason: error.description)
            }
        }
        return (listing, answers)
    }

    /// The answer for a name that was never sent: `unknown`, 0 attempts.
    func rejectedProbe(_ error: SessionNameError) -> Retried<SessionProbe> {
        Retried(answer: .unknown(reason: error.description), attempts: 0, elapsed: .zero)
    }

    /// The kill of a name that was never sent: `rejected`, 0 attempts.
    func rejectedKill(_ error: SessionNameError) -> KillResult {
        KillResult(status: .rejected, reason: error.description, attempts: 0)
    }
}

/// One listing and the exact lookup over it (see `SessionBackend.lookup()`).
public struct SessionLookup: Sendable {
    /// The listing, with the attempts it took.
    public let listing: Retried<SessionListing>
    /// Answers one name: `exists`/`missing` from the listing (dormant
    /// sessions `missing` with a reason saying so), or `unknown` when the
    /// listing failed. Does not validate the name.
    public let answer: @Sendable (String) -> SessionProbe

    /// Creates a lookup.
    public init(listing: Retried<SessionListing>, answer: @escaping @Sendable (String) -> SessionProbe) {
        self.listing = listing
        self.answer = answer
    }
}

/// What `kill(_:)` achieved.
public struct KillResult: Sendable, Hashable, CustomStringConvertible, RetryableAnswer {
    /// The outcome without its reason.
    public enum Status: String, Sendable, Hashable, CaseIterable {
        /// The multiplexer stopped (and, where it keeps records, deleted) the session.
        case killed
        /// The multiplexer said, authoritatively, that there was no such session.
        case alreadyGone
        /// No authoritative answer: the session may still be alive.
        case failed
        /// Nothing was sent: the name failed validation, or the backend (`pty`) has no multiplexer to send it to.
        case rejected
    }

    /// What happened.
    public var status: Status
    /// Why, in words a log reader acts on.
    public var reason: String
    /// Attempts made (0 for `rejected`).
    public var attempts: Int

    /// Creates a result.
    public init(status: Status, reason: String, attempts: Int = 1) {
        self.status = status
        self.reason = reason
        self.attempts = attempts
    }

    /// True for `killed` and `alreadyGone`: the session is not running now.
    public var succeeded: Bool { status == .killed || status == .alreadyGone }

    /// Only `failed` is worth retrying.
    public var isAuthoritative: Bool { status != .failed }

    /// `"killed (reason)"`.
    public var description: String { "\(status.rawValue) (\(reason))" }
}
