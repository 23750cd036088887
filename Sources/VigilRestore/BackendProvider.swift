public import VigilCore
public import VigilBackends

/// Makes the backend for a kind and (tmux) socket.
public protocol BackendProvider: Sendable {
    /// The backend for `kind`; `socket` is the tmux `-L` name, `nil` for the
    /// default server. Restore asks only for the three multiplexers (never
    /// `pty`), and passes a socket only for tmux.
    func backend(for kind: BackendKind, socket: String?) -> any SessionBackend
}

/// The real backends, configured by executable, timeout and retry policy.
public struct StandardBackends: BackendProvider {
    /// tmux executable: a name looked up on PATH, or a path.
    public var tmux: String
    /// zellij executable.
    public var zellij: String
    /// herdr executable.
    public var herdr: String
    /// Per-call deadline.
    public var timeout: Duration
    /// Retry policy for `unknown`.
    public var retry: RetryPolicy
    /// Shared by every backend made here: one reactor thread for all.
    public var spawner: Spawner

    /// Creates the provider; defaults are the names on PATH, 3 s per call, the default retry policy.
    /// - Parameter spawner: required, so that every backend of the process
    ///   shares the reactor thread the caller chose (none is started behind its back).
    public init(tmux: String = "tmux", zellij: String = "zellij", herdr: String = "herdr",
                timeout: Duration = .seconds(3), retry: RetryPolicy = RetryPolicy(), spawner: Spawner) {
        self.tmux = tmux
        self.zellij = zellij
        self.herdr = herdr
        self.timeout = timeout
        self.retry = retry
        self.spawner = spawner
    }

    /// Makes the backend. Every backend made here shares `spawner`, and so
    /// its one reactor thread. For `pty`, a `PtyBackend`, which asks nothing.
    public func backend(for kind: BackendKind, socket: String?) -> any SessionBackend {
        switch kind {
        case .tmux:
            return TmuxBackend(configuration: TmuxConfiguration(
                executable: tmux, socket: socket.map { .name($0) } ?? .default, timeout: timeout, retry: retry, spawner: spawner))
        case .zellij:
            return ZellijBackend(configuration: ZellijConfiguration(executable: zellij, timeout: timeout, retry: retry, spawner: spawner))
        case .herdr:
            return HerdrBackend(configuration: HerdrConfiguration(executable: herdr, timeout: timeout, retry: retry, spawner: spawner))
        case .pty:
            return PtyBackend()
        }
    }
}
