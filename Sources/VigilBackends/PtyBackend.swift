public import VigilCore

/// The backend for `pty` sessions: a plain pseudo-terminal, held by no
/// multiplexer, so there is nothing to ask and nothing is ever spawned.
///
/// Every probe and listing is `unknown` with 0 attempts (the session is most
/// likely gone with the daemon, but no multiplexer said so, and only an
/// authoritative answer may be `missing`); every kill is `rejected`, with
/// nothing sent. Restore never asks it: `pty` records are skipped before any
/// probe. It exists so that `BackendProvider.backend(for: .pty, ...)` has an
/// honest answer.
public struct PtyBackend: SessionBackend {
    /// Why every answer is `unknown`.
    public static let reason = "a pty session has no multiplexer to ask (nothing was sent)"

    /// Creates the backend; it holds nothing.
    public init() {}

    /// Always `pty`.
    public var kind: BackendKind { .pty }

    /// Accepts every name: none is ever sent anywhere.
    public func validate(_ name: String) throws(SessionNameError) {}

    /// `unknown`, 0 attempts.
    public func probe(_ name: String) async -> Retried<SessionProbe> { probeSynchronously(name) }

    /// `unknown`, 0 attempts.
    public func probeSynchronously(_ name: String) -> Retried<SessionProbe> {
        Retried(answer: .unknown(reason: Self.reason), attempts: 0, elapsed: .zero)
    }

    /// `unknown`, 0 attempts.
    public func list() async -> Retried<SessionListing> { listSynchronously() }

    /// `unknown`, 0 attempts.
    public func listSynchronously() -> Retried<SessionListing> {
        Retried(answer: .unknown(reason: Self.reason), attempts: 0, elapsed: .zero)
    }

    /// `rejected`, 0 attempts: there is nothing to send the kill to.
    public func kill(_ name: String) async -> KillResult {
        KillResult(status: .rejected, reason: Self.reason, attempts: 0)
    }
}
