#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VigilCore

/// A private tmux server on its own socket (`-L vigil-perf-<pid>`) with one
/// session, so the probe figures never touch the user's tmux.
///
/// Stopped with `stop()` at exit and on error. As a safety net for a perf
/// that is interrupted or killed, the session's only pane runs a watchdog
/// that exits within a second of perf's death; tmux's default `exit-empty`
/// then takes the server down with it.
final class TmuxServer: Sendable {
    /// The `-L` socket name, unique per perf process.
    let socketName: String
    /// The session the probes ask about.
    static let session = "perf"
    /// The socket file, asked of the server once it runs; removed by `stop()`
    /// because tmux leaves it behind when the server exits.
    let socketPath: String?
    /// Absolute path of the tmux binary found on PATH (for `Foundation.Process`,
    /// which does not search PATH; Vigil and the floor use the name `tmux`).
    let path: String
    private let spawner: Spawner
    private let environment: Environment

    /// Starts the server and checks that the session answers.
    /// - Throws: `BenchError` when tmux is missing or the session cannot be made.
    /// - Parameter label: part of the socket name for a second private
    ///   server (`vigil-perf-LABEL-<pid>`); the shared one has none.
    init(environment: Environment, spawner: Spawner, label: String? = nil) throws {
        guard let path = findExecutable("tmux", searchPath: environment.value(of: "PATH")) else {
            throw BenchError("tmux not found on PATH (the tmux figures need it; try --filter to skip them)")
        }
        let socketName = label.map { "vigil-perf-\($0)-\(getpid())" } ?? "vigil-perf-\(getpid())"
        func tmux(_ arguments: [String]) -> Outcome {
            TmuxServer.tmux(arguments, socketName: socketName, environment: environment, spawner: spawner)
        }
        let watchdog = "while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done"
        // -f /dev/null: none of the user's configuration. Several arguments
        // after the session options are executed directly, without a shell.
        let started = tmux(["-f", "/dev/null", "new-session", "-d", "-s", Self.session, "-x", "80", "-y", "24",
                            "/bin/sh", "-c", watchdog])
        guard started.termination == .exited(0) else {
            _ = tmux(["kill-server"])
            throw BenchError("could not start a private tmux server: \(started.failureReason(program: "tmux", timeout: .seconds(10)))")
        }
        let asked = tmux(["display-message", "-p", "#{socket_path}"])
        let reported = Outcome.firstLine(of: asked.stdout.text)
        self.socketPath = asked.termination == .exited(0) && reported.hasPrefix("/") ? reported : nil
        self.socketName = socketName
        self.path = path
        self.spawner = spawner
        self.environment = environment
        let probe = tmux(probeArguments)
        guard probe.termination == .exited(0) else {
            stop()
            throw BenchError("private tmux session does not answer: \(probe.failureReason(program: "tmux", timeout: .seconds(10)))")
        }
    }

    /// `tmux -L SOCKET has-session -t =perf`: the exact-match probe a tmux backend runs.
    var probeArguments: [String] { ["-L", socketName, "has-session", "-t", "=\(Self.session)"] }

    /// Kills the server. Safe to call more than once.
    func stop() {
        _ = tmux(["kill-server"])
        if let socketPath { unlink(socketPath) }
    }

    private func tmux(_ arguments: [String]) -> Outcome {
        Self.tmux(arguments, socketName: socketName, environment: environment, spawner: spawner)
    }

    private static func tmux(_ arguments: [String], socketName: String, environment: Environment, spawner: Spawner) -> Outcome {
        let all = arguments.first == "-L" ? arguments : ["-L", socketName] + arguments
        return spawner.runSynchronously(Command("tmux", arguments: all, environment: environment,
                                                timeout: .seconds(10), stdoutLimit: 4096, stderrLimit: 4096))
    }
}

/// The first executable `name` on `searchPath` (a PATH value), as an absolute path.
func findExecutable(_ name: String, searchPath: String?) -> String? {
    if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
    for directory in (searchPath ?? "/usr/bin:/bin").split(separator: ":") where directory.hasPrefix("/") {
        let candidate = "\(directory)/\(name)"
        if access(candidate, X_OK) == 0 { return candidate }
    }
    return nil
}
