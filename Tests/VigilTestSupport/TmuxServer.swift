// A real tmux server on a socket of its own, started through the core
// Spawner (no shell) and always torn down: killed, and its socket file
// removed.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif // canImport(Glibc)
import Synchronization
public import VigilCore
public import VigilBackends

/// A tmux server on a private socket, torn down by `tearDown()`, by the end
/// of `withTmuxServer`, or at the latest when the value goes away (also when
/// a test fails half-way).
public final class TmuxServer: Sendable {
    /// Which socket the server listens on.
    public let socket: TmuxSocket
    /// Where the socket file is.
    public let socketPath: String
    /// The environment of every tmux call (TMUX and TMUX_PANE removed, so a
    /// test run from inside tmux does not reach the caller's server).
    public let environment: Environment
    /// The tmux executable.
    public let executable: String
    private let tornDown = Atomic<Bool>(false)

    /// Picks the socket; starts nothing until a session is created.
    /// - Parameters:
    ///   - label: part of the unique `-L vigil-test-<label>-<pid>-<n>` name used when `socket` is `nil`.
    ///   - socket: a given socket instead; `.default` only together with `tmuxTmpdir`.
    ///   - tmuxTmpdir: sets `TMUX_TMPDIR` for every call when given.
    ///   - executable: the tmux to run.
    public init(label: String = "t", socket: TmuxSocket? = nil, tmuxTmpdir: String? = nil, executable: String = "tmux") {
        let socket = socket ?? .name("vigil-test-\(label)-\(nextTestID())")
        // Tear-down kills the server and removes its socket: never the caller's own default.
        precondition(socket != .default || tmuxTmpdir != nil, "the default socket only under a private TMUX_TMPDIR")
        self.socket = socket
        self.executable = executable
        var setting: [String: String] = [:]
        if let tmuxTmpdir { setting["TMUX_TMPDIR"] = tmuxTmpdir }
        environment = .inherited(removing: ["TMUX", "TMUX_PANE"], setting: setting)
        let base = (tmuxTmpdir ?? environment.value(of: "TMUX_TMPDIR").flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp")
            + "/tmux-\(getuid())/"
        switch socket {
        case .default: socketPath = base + "default"
        case .name(let n): socketPath = base + n
        case .path(let p): socketPath = p
        }
    }

    deinit { tearDown() }

    /// The `-L` name: what `vigil --socket` and a store record's `socket` take.
    public var socketName: String {
        guard case .name(let name) = socket else { preconditionFailure("\(socket) is not a -L socket") }
        return name
    }

    /// Runs `tmux SOCKET ARGS...` to the end (no shell).
    @discardableResult
    public func run(_ args: [String]) -> Outcome {
        Spawner().runSynchronously(Command(executable, arguments: socket.arguments + args, environment: environment, timeout: .seconds(20)))
    }

    /// Creates a detached session running `sleep` (no config file, no shell
    /// start-up), which starts the server if needed.
    /// - Throws: `TestFailure` when tmux refuses.
    public func createSession(_ name: String) throws {
        let o = run(["-f", "/dev/null", "new-session", "-d", "-s", name, "sleep", "3600"])
        guard o.termination == .exited(0) else {
            throw TestFailure("tmux new-session \(name): \(o.failureReason(program: "tmux", timeout: .seconds(20)))")
        }
    }

    /// Whether session `name` exists, asked exactly (`=name`).
    public func has(_ name: String) -> Bool {
        run(["has-session", "-t", "=\(name)"]).termination == .exited(0)
    }

    /// The server's pid, asked of the server itself.
    public func serverPID() throws -> Int32 {
        let o = run(["display-message", "-p", "#{pid}"])
        guard o.termination == .exited(0), let pid = Int32(Outcome.firstLine(of: o.stdout.text)) else {
            throw TestFailure("tmux display-message #{pid}: \(o.failureReason(program: "tmux", timeout: .seconds(20)))")
        }
        return pid
    }

    /// The socket path the server reports (`#{socket_path}`).
    public func reportedSocketPath() throws -> String {
        let o = run(["display-message", "-p", "#{socket_path}"])
        let path = Outcome.firstLine(of: o.stdout.text)
        guard o.termination == .exited(0), path.hasPrefix("/") else { throw TestFailure("tmux display-message #{socket_path}: \(o)") }
        return path
    }

    /// Attaches a real client to `session` through `script` (which gives it
    /// a pty), and waits until the server lists it.
    /// - Returns: the client; `detach()` it (or let it go) to end it.
    public func attachClient(to session: String) throws -> AttachedClient {
        let before = Set(clientTTYs())
        var line = ([executable] + socket.arguments + ["attach-session", "-t", "=" + session]).map { "'\($0)'" }.joined(separator: " ")
        line += " >/dev/null 2>&1"
        let command = WorkerCommand("script", arguments: ["-qfc", line, "/dev/null"], environment: environment)
        guard case .launched(let pid) = Spawner().launch(command) else { throw TestFailure("script could not be started") }
        let client = AttachedClient(scriptPID: pid)
        var tty: String? = nil
        _ = waitUntil(milliseconds: 20_000) {
            tty = clientTTYs().first { !before.contains($0) }
            return tty != nil
        }
        guard let tty else { throw TestFailure("no client attached to \(session)") }
        client.tty = tty
        return client
    }

    /// `#{client_tty}` of every client attached to the server.
    public func clientTTYs() -> [String] {
        let o = run(["list-clients", "-F", "#{client_tty}"])
        return o.termination == .exited(0) ? o.stdout.text.split(separator: "\n").map(String.init) : []
    }

    /// Kills the server (ignoring "no server") and removes the socket file,
    /// which tmux 3.3a leaves behind after kill-server. Once; later calls do nothing.
    public func tearDown() {
        guard !tornDown.exchange(true, ordering: .relaxed) else { return }
        run(["kill-server"])
        unlink(socketPath)
    }
}

/// Runs `body` with a fresh tmux server; the server is torn down at the end
/// whether `body` returns, throws or records failed expectations.
public func withTmuxServer<R>(
    label: String = "t", socket: TmuxSocket? = nil, tmuxTmpdir: String? = nil,
    _ body: (TmuxServer) async throws -> R
) async throws -> R {
    let server = TmuxServer(label: label, socket: socket, tmuxTmpdir: tmuxTmpdir)
    defer { server.tearDown() }
    return try await body(server)
}

/// A tmux client attached through `script`; its process group is killed by
/// `detach()` or when the value goes away.
public final class AttachedClient: @unchecked Sendable {
    /// `script`'s pid, leader of the client's own session and group.
    public let scriptPID: Int32
    /// The client's tty as tmux names it (`/dev/pts/N`).
    public var tty: String = ""

    init(scriptPID: Int32) { self.scriptPID = scriptPID }

    deinit { detach() }

    /// Ends `script` and the client (SIGKILL to the group).
    public func detach() {
        kill(-scriptPID, SIGKILL)
    }
}
