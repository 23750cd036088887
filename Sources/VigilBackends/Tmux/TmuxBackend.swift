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
    /// Runs the children. Required: its reactor is the thread that follows
    /// the calls, so backends that share a spawner share that thread.
    public var spawner: Spawner
    /// tmux calls in flight at once to one server (4 by default): a tmux
    /// server is single-threaded, and a thousand clients at once make it
    /// fall behind until callers time out. Calls past the bound wait their
    /// turn (suspended, cancellable, within the retry policy's deadline).
    /// The bound is per server and per reactor: every backend that shares
    /// the `spawner`'s reactor and asks the same socket (with the same
    /// `TMUX_TMPDIR`) shares it; the first one made sets the number.
    public var maxConcurrentCallsPerServer: Int
    /// Where the kernel's unix socket table is read to confirm tmux's "no
    /// server" answers (`/proc/net/unix` by default; see `UnixSocketSource`).
    public var sockets: UnixSocketSource

    /// Creates a configuration; every argument but the spawner has a default (tmux on PATH, the default socket, 3 s, the default retry policy, 4 calls per server, `/proc/net/unix`).
    public init(
        executable: String = "tmux",
        socket: TmuxSocket = .default,
        environment: Environment = .inherit,
        keepTmuxEnvironment: Bool = false,
        timeout: Duration = .seconds(3),
        retry: RetryPolicy = RetryPolicy(),
        spawner: Spawner,
        maxConcurrentCallsPerServer: Int = 4,
        sockets: UnixSocketSource = .system
    ) {
        self.executable = executable
        self.socket = socket
        self.environment = environment
        self.keepTmuxEnvironment = keepTmuxEnvironment
        self.timeout = timeout
        self.retry = retry
        self.spawner = spawner
        self.maxConcurrentCallsPerServer = maxConcurrentCallsPerServer
        self.sockets = sockets
    }
}

/// tmux sessions, asked with `tmux has-session -t =NAME ; display-message -p -t =NAME: '#{session_name}'`.
///
/// The `=` makes the match exact: without it tmux accepts a unique prefix or
/// an fnmatch pattern, so `bmx-dead` would "exist" when only `bmx-deadbeef`
/// does. Even with `=`, tmux resolves a name that is no session to the
/// session of a client of that name (a tty such as `pts/7` or `/dev/pts/7`,
/// or `client-PID`), so `has-session` would say yes; asking for the
/// resolved session's name and comparing it makes that impossible (see
/// `probe(_:)`). Listing uses `list-sessions -F '#{session_name}'`.
public struct TmuxBackend: SessionBackend {
    /// The configuration as given.
    public let configuration: TmuxConfiguration
    let invoker: Invoker
    let socketArguments: [String]
    let listArguments: [String]
    let listSource: String
    /// Set when the configured socket cannot be used exactly; then nothing is run.
    let socketProblem: String?
    /// Bounds the calls in flight to this server (shared through the spawner's reactor).
    let gate: ConcurrencyGate

    /// The gate every call to this server passes (see
    /// `TmuxConfiguration.maxConcurrentCallsPerServer`); shared by all
    /// backends on the same reactor that ask the same server.
    public var serverGate: ConcurrencyGate { gate }

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
    public init(configuration: TmuxConfiguration) {
        self.configuration = configuration
        var environment = configuration.environment
        if !configuration.keepTmuxEnvironment {
            environment = environment.removing(["TMUX", "TMUX_PANE"])
        }
        invoker = Invoker(program: configuration.executable, environment: environment,
                          timeout: configuration.timeout, spawner: configuration.spawner)
        socketArguments = configuration.socket.arguments
        listArguments = socketArguments + ["list-sessions", "-F", "#{session_name}"]
        listSource = "tmux list-sessions (\(configuration.socket))"
        socketProblem = Self.socketProblem(configuration.socket)
        // One server: the socket as named, resolved under this TMUX_TMPDIR.
        let serverKey = "tmux \(configuration.socket) TMUX_TMPDIR=\(environment.value(of: "TMUX_TMPDIR") ?? "")"
        gate = configuration.spawner.reactor.gate(for: serverKey, limit: configuration.maxConcurrentCallsPerServer)
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

    // MARK: - Calls through the server's gate

    /// One tmux call, or why it never ran.
    enum Call {
        case ran(Outcome, timeout: Duration?)
        case noTurn(String)
    }

    /// How long a call may wait for its turn: the time left, less what the
    /// call itself needs (its timeout, or half the time left when that is
    /// shorter), so a call that gets a turn is not cut short by the deadline
    /// and made to look like a server that failed to answer.
    func turnDeadline(_ start: ContinuousClock.Instant, remaining: Duration?) -> ContinuousClock.Instant? {
        guard let remaining else { return nil }
        return start + max(.zero, remaining - min(configuration.timeout, remaining / 2))
    }

    /// Runs `tmux SOCKET ARGUMENTS` once it has a turn at the server's gate,
    /// with a deadline that ends within `remaining` (the wait included).
    func call(_ arguments: [String], remaining: Duration?, stdoutLimit: Int, stderrLimit: Int) async -> Call {
        let clock = ContinuousClock()
        let start = clock.now
        guard await gate.enter(until: turnDeadline(start, remaining: remaining)) else { return .noTurn(noTurnReason(cancelled: Task.isCancelled)) }
        defer { gate.leave() }
        let left = remaining.map { $0 - (clock.now - start) }
        let command = invoker.command(socketArguments + arguments, remaining: left, stdoutLimit: stdoutLimit, stderrLimit: stderrLimit)
        return .ran(await invoker.spawner.run(command), timeout: command.timeout)
    }

    /// The blocking form of `call`.
    func callSynchronously(_ arguments: [String], remaining: Duration?, stdoutLimit: Int, stderrLimit: Int) -> Call {
        let clock = ContinuousClock()
        let start = clock.now
        guard gate.enterBlocking(until: turnDeadline(start, remaining: remaining)) else { return .noTurn(noTurnReason(cancelled: false)) }
        defer { gate.leave() }
        let left = remaining.map { $0 - (clock.now - start) }
        let command = invoker.command(socketArguments + arguments, remaining: left, stdoutLimit: stdoutLimit, stderrLimit: stderrLimit)
        return .ran(invoker.spawner.runSynchronously(command), timeout: command.timeout)
    }

    private func noTurnReason(cancelled: Bool) -> String {
        cancelled
            ? "cancelled while waiting for a turn at the tmux server (\(configuration.socket))"
            : "no turn at the tmux server (\(configuration.socket)) before the deadline: "
                + "\(gate.limit) calls at once per server, \(gate.waiting) waiting"
    }

    // MARK: - Probe

    /// What the resolution prints: the resolved session's name.
    private static let displayFormat = "#{session_name}"

    /// `has-session -t =NAME ; display-message -p -t =NAME: FORMAT`: one
    /// client, two commands. has-session fails with tmux's usual messages
    /// when nothing resolves (display-message alone would print an empty
    /// line and exit 0: its target may fail), and stops the list; when it
    /// succeeds, display-message prints what the same target resolved to.
    private func resolveArguments(_ name: String, format: String = displayFormat) -> [String] {
        ["has-session", "-t", Self.argument("=" + name), ";", "display-message", "-p", "-t", "=" + name + ":", format]
    }

    /// `text` as one tmux argument. tmux ends a command at an argument that
    /// ends in `;` (cmd-parse.c, `cmd_parse_from_arguments`), so `=foo;`
    /// would ask about `foo`; a backslash before that last `;` keeps it.
    static func argument(_ text: String) -> String {
        text.hasSuffix(";") ? String(text.dropLast()) + "\\;" : text
    }

    /// `tmux has-session -t =NAME ; display-message -p -t =NAME: '#{session_name}'`,
    /// classified by `classifyResolution(_:name:program:timeout:sockets:)`, `unknown` retried.
    ///
    /// `exists` only when tmux printed exactly NAME: tmux looks a session up
    /// by its exact name first and only then reads the target as a client
    /// (cmd-find.c, `cmd_find_get_session`, seen on 3.3a), so another name
    /// means a client's session. That answer is then settled by a listing
    /// (exact, whatever tmux's lookup order): `missing` unless listed.
    public func probe(_ name: String) async -> Retried<SessionProbe> {
        do { try validate(name) } catch { return rejectedProbe(error) }
        if let refused = refused({ SessionProbe.unknown(reason: $0) }) { return refused }
        return await configuration.retry.run(metered: { _, remaining in
            let clock = ContinuousClock()
            let start = clock.now
            let call = await call(resolveArguments(name), remaining: remaining,
                                  stdoutLimit: OutputLimits.probeStdout, stderrLimit: OutputLimits.probeStderr)
            switch probeStep(after: call, name: name) {
            case .answered(let answer, let usage):
                return (answer, usage)
            case .settleByListing(let resolved, var usage):
                let (listing, listingUsage) = await listOnce(remaining: remaining.map { $0 - (clock.now - start) })
                usage.add(listingUsage)
                return (Self.settle(name, resolvedTo: resolved, by: listing), usage)
            }
        })
    }

    /// The blocking form of `probe(_:)`.
    public func probeSynchronously(_ name: String) -> Retried<SessionProbe> {
        do { try validate(name) } catch { return rejectedProbe(error) }
        if let refused = refused({ SessionProbe.unknown(reason: $0) }) { return refused }
        return configuration.retry.runSynchronously(metered: { _, remaining in
            let clock = ContinuousClock()
            let start = clock.now
            let call = callSynchronously(resolveArguments(name), remaining: remaining,
                                         stdoutLimit: OutputLimits.probeStdout, stderrLimit: OutputLimits.probeStderr)
            switch probeStep(after: call, name: name) {
            case .answered(let answer, let usage):
                return (answer, usage)
            case .settleByListing(let resolved, var usage):
                let (listing, listingUsage) = listOnceSynchronously(remaining: remaining.map { $0 - (clock.now - start) })
                usage.add(listingUsage)
                return (Self.settle(name, resolvedTo: resolved, by: listing), usage)
            }
        })
    }

    /// What one resolving call says: an answer, or a name tmux resolved to
    /// another session that a listing must settle. Shared by both probe forms.
    enum ProbeStep {
        case answered(SessionProbe, ChildrenUsage)
        case settleByListing(resolvedTo: String, ChildrenUsage)
    }

    func probeStep(after call: Call, name: String) -> ProbeStep {
        switch call {
        case .noTurn(let why):
            return .answered(.unknown(reason: why), .none)
        case .ran(let outcome, let timeout):
            let usage = ChildrenUsage(outcome)
            switch Self.classifyResolution(outcome, name: name, program: invoker.program, timeout: timeout, sockets: configuration.sockets) {
            case .answer(let answer): return .answered(answer, usage)
            case .otherSession(let resolved): return .settleByListing(resolvedTo: resolved, usage)
            }
        }
    }

    /// A name tmux resolved to another session (through a client), settled
    /// by an exact listing.
    static func settle(_ name: String, resolvedTo resolved: String, by listing: SessionListing) -> SessionProbe {
        let note = "tmux resolved \"\(name)\" to session \"\(resolved)\" (the name of a client, not of a session)"
        switch listing {
        case .live(let names, let source):
            if names.contains(name) { return .exists(reason: "listed by \(source); \(note)") }
            return .missing(reason: "no session of that name: \(note), and \(source) does not list it")
        case .unknown(let reason):
            return .unknown(reason: "\(note); the listing to settle it failed: \(reason)")
        }
    }

    // MARK: - List

    /// One listing call, with what its child cost.
    private func listOnce(remaining: Duration?) async -> (SessionListing, ChildrenUsage) {
        switch await call(["list-sessions", "-F", "#{session_name}"], remaining: remaining,
                          stdoutLimit: OutputLimits.listingStdout, stderrLimit: OutputLimits.listingStderr) {
        case .noTurn(let why): return (.unknown(reason: why), .none)
        case .ran(let outcome, let timeout):
            return (Self.classifyListing(outcome, program: invoker.program, timeout: timeout, source: listSource, sockets: configuration.sockets),
                    ChildrenUsage(outcome))
        }
    }

    private func listOnceSynchronously(remaining: Duration?) -> (SessionListing, ChildrenUsage) {
        switch callSynchronously(["list-sessions", "-F", "#{session_name}"], remaining: remaining,
                                 stdoutLimit: OutputLimits.listingStdout, stderrLimit: OutputLimits.listingStderr) {
        case .noTurn(let why): return (.unknown(reason: why), .none)
        case .ran(let outcome, let timeout):
            return (Self.classifyListing(outcome, program: invoker.program, timeout: timeout, source: listSource, sockets: configuration.sockets),
                    ChildrenUsage(outcome))
        }
    }

    /// `tmux list-sessions -F '#{session_name}'`, classified by
    /// `classifyListing(_:program:timeout:source:sockets:)`, `unknown` retried.
    /// An empty set only when no server listens (see the socket check).
    public func list() async -> Retried<SessionListing> {
        if let refused = refused({ SessionListing.unknown(reason: $0) }) { return refused }
        return await configuration.retry.run(metered: { _, remaining in await listOnce(remaining: remaining) })
    }

    /// The blocking form of `list()`.
    public func listSynchronously() -> Retried<SessionListing> {
        if let refused = refused({ SessionListing.unknown(reason: $0) }) { return refused }
        return configuration.retry.runSynchronously(metered: { _, remaining in listOnceSynchronously(remaining: remaining) })
    }

    // MARK: - Kill

    /// Resolves `=NAME:` to a session id, then `tmux kill-session -t $ID`:
    /// never the session of a client that happens to have that name. Exit 0
    /// is `killed`; no such session or no server (confirmed) is
    /// `alreadyGone`; anything else `failed`, retried.
    public func kill(_ name: String) async -> KillResult {
        do { try validate(name) } catch { return rejectedKill(error) }
        if let problem = socketProblem { return KillResult(status: .rejected, reason: "not asked: \(problem)", attempts: 0) }
        let retried = await configuration.retry.run { _, remaining in
            await killOnce(name, remaining: remaining)
        }
        var result = retried.answer
        result.attempts = retried.attempts
        return result
    }

    private func killOnce(_ name: String, remaining: Duration?) async -> KillResult {
        let clock = ContinuousClock()
        let start = clock.now
        func left() -> Duration? { remaining.map { $0 - (clock.now - start) } }
        let resolved = await call(resolveArguments(name, format: "#{session_id} #{session_name}"), remaining: remaining,
                                  stdoutLimit: OutputLimits.probeStdout, stderrLimit: OutputLimits.probeStderr)
        guard case .ran(let outcome, let timeout) = resolved else {
            if case .noTurn(let why) = resolved { return KillResult(status: .failed, reason: why) }
            return KillResult(status: .failed, reason: "not asked")
        }
        guard outcome.termination == .exited(0) else {
            return KillResult.from(Self.classify(outcome, program: invoker.program, timeout: timeout, sockets: configuration.sockets))
        }
        let line = TextLines.nonEmptyLines(outcome.stdout.bytes).first ?? ""
        guard !outcome.stdout.truncated, let space = line.firstIndex(of: " "), line.hasPrefix("$") else {
            return KillResult(status: .failed, reason: "\(invoker.program) display-message printed \"\(line.prefix(100))\", not a session id and name")
        }
        let id = String(line[..<space])
        let resolvedName = String(line[line.index(after: space)...])
        guard resolvedName == name else {
            switch Self.settle(name, resolvedTo: resolvedName, by: await listOnce(remaining: left()).0) {
            case .missing(let reason): return KillResult(status: .alreadyGone, reason: reason)
            case .exists(let reason), .unknown(let reason):
                return KillResult(status: .failed, reason: "not killed: \(reason)")
            }
        }
        switch await call(["kill-session", "-t", id], remaining: left(), stdoutLimit: 0, stderrLimit: OutputLimits.probeStderr) {
        case .noTurn(let why): return KillResult(status: .failed, reason: why)
        case .ran(let outcome, let timeout):
            return Self.classifyKill(outcome, program: invoker.program, timeout: timeout, sockets: configuration.sockets)
        }
    }
}

extension KillResult {
    /// A probe's answer read as the outcome of a kill: `missing` is `alreadyGone`, anything else `failed`.
    static func from(_ probe: SessionProbe) -> KillResult {
        switch probe {
        case .missing(let reason): return KillResult(status: .alreadyGone, reason: reason)
        case .exists(let reason), .unknown(let reason): return KillResult(status: .failed, reason: reason)
        }
    }
}
