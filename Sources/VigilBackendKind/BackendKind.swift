// The one name for the backend a session lives in. The store reads and
// writes it (a record's `backend` member) and the backends answer for it (a
// `SessionBackend`'s `kind`); those two modules do not depend on each other,
// so the enum sits here, below both, and each re-exports it.

/// The backend a session lives in: one of the three multiplexers Vigil can
/// ask, or a plain pseudo-terminal.
///
/// The raw value is the word in the store and in every output: `tmux`,
/// `zellij`, `herdr`, `pty`. A `pty` session does not survive the daemon
/// and has no multiplexer to ask, so restore never probes it
/// (`isPersistent` is false); `multiplexers` lists the other three.
public enum BackendKind: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// tmux, asked with `has-session -t =NAME` and `list-sessions`; a record's
    /// `socket` names the `-L` server, if not the default.
    case tmux
    /// zellij, asked with `list-sessions --no-formatting`.
    case zellij
    /// herdr, asked with `session list --json`.
    case herdr
    /// A plain pseudo-terminal: nothing survives a restart, nothing is asked.
    case pty

    /// The backends whose sessions can outlive the daemon, in this order:
    /// `tmux`, `zellij`, `herdr`.
    public static let multiplexers: [BackendKind] = [.tmux, .zellij, .herdr]

    /// Whether sessions of this backend can survive the daemon's restart
    /// (every case but `pty`).
    public var isPersistent: Bool { self != .pty }

    /// The raw value: `tmux`, `zellij`, `herdr`, `pty`.
    public var description: String { rawValue }
}

/// The backend enum under the name the store module gave it.
@available(*, deprecated, renamed: "BackendKind")
public typealias StoreBackend = BackendKind
