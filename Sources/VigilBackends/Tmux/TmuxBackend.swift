public import VigilCore

/// Which tmux server to talk to.
public enum TmuxSocket: Sendable, Hashable, CustomStringConvertible {
    /// The default server: `$TMUX_TMPDIR/tmux-UID/default` (`/tmp` when unset).
    case `default`
    /// `-L name`: a named socket in the same per-user directory.
    case name(String)
    /// `-S path`: a socket at an explicit path.
    case path(String)

    /// The arguments that select this socket, before the command.
    public var arguments: [String] {
        switch self {
        case .default: return []
        case .name(let n): return ["-L", n]
        case .path(let p): return ["-S", p]
        }
    }

    /// `default socket`, `-L name` or `-S path`.
    public var description: String {
        switch self {
        case .default: return "default socket"
        case .name(let n): return "-L \(n)"
        case .path(let p): return "-S \(p)"
        }
    }
}

/// Everything that shapes how `TmuxBackend` runs tmux.
public struct TmuxConfiguration: Sendable {
    /// `tmux` (looked up on `PATH`) or an absolute path.
    public var executable: String
    /// Which server to ask.
    public var socket: TmuxSocket
    /// The environment tmux starts with. Unless `keepTmuxEnvironment` is
    /// set, `TMUX` and `TMUX_PANE` are removed from it once, when the backend
    /// is made (so `.inherit` becomes a snapshot of the caller's environment then).
    public var environment: Environment
    /// Keep `TMUX` and `TMUX_PANE`. Off by default: with the default socket,
    /// tmux takes its socket path from `TMUX`, so a probe run from inside
    /// another tmux would ask that server instead of the configured one.
    public var keepTmuxEnvironment: Bool
    /// The deadline of each call, shortened to fit the retry policy's overall deadline.
    public var timeout: Duration
    /// How `unknown` answers are retried.
    public var retry: RetryPolicy
    /// Runs the children.
    public var spawner: Spawner

    /// Creates a configuration; every argument has the default the issue names.
    public init(
        executable: String = "tmux",
        socket: TmuxSocket = .default,
        environment: Environment = .inherit,
        keepTmuxEnvironment: Bool = false,
        timeout: Duration = .seconds(3),
        retry: RetryPolicy = RetryPolicy(),
        spawner: Spawner = Spawner()
    ) {
        self.executable = executable
        self.socket = socket
        self.environment = environment
        self.keepTmuxEnvironment = keepTmuxEnvironment
        self.timeout = timeout
        self.retry = retry
        self.spawner = spawner
    }
}

/// tmux sessions, asked with `tmux has-session -t =NAME`.
///
/// The `=` makes the match exact: without it tmux accepts a unique prefix or
/// an fnmatch pattern, so `bmx-dead` would "exist" when only `bmx-deadbeef`
/// does. Listing uses `list-sessions -F '#{session_name}'`.
public struct TmuxBackend: SessionBackend {
    /// The configuration as given.
    public let configuration: TmuxConfiguration
    let invoker: Invoker
    let hasSessionPrefix: [String]
    let killSessionPrefix: [String]
    let listArguments: [String]
    let listSource: String
    /// Set when the configured socket cannot be used exactly; then nothing is run.
    let socketProblem: String?

    /// The names tmux cannot hold or look up exactly.
    static let rules = NameRules(
        forbidden: [
            (":", "separates session from window in a tmux target, and tmux rewrites it to '_'"),
            (".", "separates window from pane in a tmux target, and tmux rewrites it to '_'"),
        ],
        forbiddenFirst: [
            ("$", "tmux reads as a session id: '=$1' finds session $1, not a session named \"$1\""),
        ],
        asciiOnly: "tmux lists non-ASCII characters as '_' when its locale is not UTF-8, so a listing would not match"
    )

    /// Makes a backend, building the child environment once.
    public init(configuration: TmuxConfiguration = TmuxConfiguration()) {
        self.configuration = configuration
        var environment = configuration.environment
        if !configuration.keepTmuxEnvironment {
            var pairs: [(String, String)] = []
            for entry in environment.entries {
                let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = String(parts[0])
                if key == "TMUX" || key == "TMUX_PANE" { continue }
                pairs.append((key, parts.count > 1 ? String(parts[1]) : ""))
            }
            environment = .exactly(pairs)
        }
        invoker = Invoker(program: configuration.executable, environment: environment,
                          timeout: configuration.timeout, spawner: configuration.spawner)
        let socketArguments = configuration.socket.arguments
        hasSessionPrefix = socketArguments + ["has-session", "-t"]
        killSessionPrefix = socketArguments + ["kill-session", "-t"]
        listArguments = socketArguments + ["list-sessions", "-F", "#{session_name}"]
        listSource = "tmux list-sessions (\(configuration.socket))"
        socketProblem = Self.socketProblem(configuration.socket)
    }

    /// Why tmux could not be asked about `socket` exactly, or `nil`.
    ///
    /// tmux turns `-L NAME` into a path under its socket folder, so an empty
    /// name or one with `/` names some other socket (or none); its answer
    /// would be about the wrong server, and "no server running" there would
    /// read as "missing" here. Such a socket is never used: every call
    /// answers `unknown`.
    public static func socketProblem(_ socket: TmuxSocket) -> String? {
        func control(_ s: String) -> Bool { s.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F } }
        switch socket {
        case .default:
            return nil
        case .name(let name):
            if name.isEmpty { return "empty tmux socket name" }
            if name.contains("/") { return "tmux socket name \"\(name)\" contains '/' (a path needs -S)" }
            if control(name) { return "tmux socket name contains a control character" }
            return nil
        case .path(let path):
            if path.isEmpty { return "empty tmux socket path" }
            if control(path) { return "tmux socket path contains a control character" }
            return nil
        }
    }

    /// The answer for every call on a socket that `socketProblem` refuses.
    private func refused<T: RetryableAnswer>(_ make: (String) -> T) -> Retried<T>? {
        socketProblem.map { Retried(answer: make("not asked: \($0)"), attempts: 0, elapsed: .zero) }
    }

    /// Always `.tmux`.
    public var kind: BackendKind { .tmux }

    /// Refuses empty names, control characters, `:` and `.` (tmux rewrites
    /// them), a leading `$` (a session id) and non-ASCII (listed as `_`
    /// outside UTF-8 locales).
    public func validate(_ name: String) throws(SessionNameError) {
        try Self.rules.validate(name, for: .tmux)
    }

    // MARK: - Probe

    @inline(__always)
    private func hasSessionCommand(_ name: String, remaining: Duration?) -> Command {
        var arguments = hasSessionPrefix
        arguments.append("=" + name)
        // Nothing on stdout is read: send it to /dev/null rather than a pipe.
        return invoker.command(arguments, remaining: remaining, stdoutLimit: 0, stderrLimit: OutputLimits.probeStderr)
    }

    /// `tmux has-session -t =NAME`, classified by `classify(_:program:timeout:)`,
    /// `unknown` retried.
    public func probe(_ name: String) async -> Retried<SessionProbe> {
        do { try validate(name) } catch { return rejectedProbe(error) }
        if let refused = refused({ SessionProbe.unknown(reason: $0) }) { return refused }
        return await configuration.retry.run(metered: { _, remaining in
            let command = hasSessionCommand(name, remaining: remaining)
            let outcome = await invoker.spawner.run(command)
            return (Self.classify(outcome, program: invoker.program, timeout: command.timeout), ChildrenUsage(outcome))
        })
    }

    /// The blocking form of `probe(_:)`.
    public func probeSynchronously(_ name: String) -> Retried<SessionProbe> {
        do { try validate(name) } catch { return rejectedProbe(error) }
        if let refused = refused({ SessionProbe.unknown(reason: $0) }) { return refused }
        return configuration.retry.runSynchronously(metered: { _, remaining in
            let command = hasSessionCommand(name, remaining: remaining)
            let outcome = invoker.spawner.runSynchronously(command)
            return (Self.classify(outcome, program: invoker.program, timeout: command.timeout), ChildrenUsage(outcome))
        })
    }

    // MARK: - List

    private func listCommand(remaining: Duration?) -> Command {
        invoker.command(listArguments, remaining: remaining,
                        stdoutLimit: OutputLimits.listingStdout, stderrLimit: OutputLimits.listingStderr)
    }

    /// `tmux list-sessions -F '#{session_name}'`, classified by
    /// `classifyListing(_:program:timeout:source:)`, `unknown` retried.
    public func list() async -> Retried<SessionListing> {
        if let refused = refused({ SessionListing.unknown(reason: $0) }) { return refused }
        return await configuration.retry.run(metered: { _, remaining in
            let command = listCommand(remaining: remaining)
            let outcome = await invoker.spawner.run(command)
            return (Self.classifyListing(outcome, program: invoker.program, timeout: command.timeout, source: listSource),
                    ChildrenUsage(outcome))
        })
    }

    /// The blocking form of `list()`.
    public func listSynchronously() -> Retried<SessionListing> {
        if let refused = refused({ SessionListing.unknown(reason: $0) }) { return refused }
        return configuration.retry.runSynchronously(metered: { _, remaining in
            let command = listCommand(remaining: remaining)
            let outcome = invoker.spawner.runSynchronously(command)
            return (Self.classifyListing(outcome, program: invoker.program, timeout: command.timeout, source: listSource),
                    ChildrenUsage(outcome))
        })
    }

    // MARK: - Kill

    /// `tmux kill-session -t =NAME`: exit 0 is `killed`; "can't find session"
    /// or no server is `alreadyGone`; anything else `failed`, retried.
    public func kill(_ name: String) async -> KillResult {
        do { try validate(name) } catch { return KillResult(status: .rejected, reason: error.description, attempts: 0) }
        if let problem = socketProblem { return KillResult(status: .rejected, reason: "not asked: \(problem)", attempts: 0) }
        let retried = await configuration.retry.run { _, remaining in
            var arguments = killSessionPrefix
            arguments.append("=" + name)
            let command = invoker.command(arguments, remaining: remaining, stdoutLimit: 0, stderrLimit: OutputLimits.probeStderr)
            let outcome = await invoker.spawner.run(command)
            return Self.classifyKill(outcome, program: invoker.program, timeout: command.timeout)
        }
        var result = retried.answer
        result.attempts = retried.attempts
        return result
    }
}
