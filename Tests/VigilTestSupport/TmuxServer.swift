#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import VigilCore
import Synchronization

/// A real tmux server on a private `-L` socket, unique per instance, killed
/// when the value goes away (also when a test fails half-way).
public final class TmuxServer: @unchecked Sendable {
    /// The `-L` socket name.
    public let socket: String
    /// The tmux executable.
    public let tmux: String
    private let spawner = Spawner()
    private let environment = Environment.inherited(removing: ["TMUX", "TMUX_PANE"])

    private static let counter = Atomic<Int>(0)

    /// Picks a unique socket name; starts nothing until a session is created.
    public init(label: String = "t", tmux: String = "tmux") {
        let n = TmuxServer.counter.wrappingAdd(1, ordering: .relaxed).newValue
        socket = "vigil-test-\(label)-\(getpid())-\(n)"
        self.tmux = tmux
    }

    deinit { _ = run(["kill-server"]) }

    /// Runs `tmux -L socket ARGS...` (no shell).
    @discardableResult
    public func run(_ args: [String]) -> Outcome {
        spawner.runSynchronously(Command(tmux, arguments: ["-L", socket] + args, environment: environment, timeout: .seconds(10)))
    }

    /// Creates a detached session running `sleep` so it needs no shell config.
    public func createSession(_ name: String) {
        let o = run(["new-session", "-d", "-s", name, "sleep", "3600"])
        precondition(o.termination == .exited(0), "tmux new-session \(name) failed: \(o.termination) \(o.stderr.text)")
    }

    /// The live session names, or [] when no server runs.
    public func sessions() -> Set<String> {
        let o = run(["list-sessions", "-F", "#{session_name}"])
        guard o.termination == .exited(0) else { return [] }
        return Set(o.stdout.text.split(separator: "\n").map(String.init))
    }

    /// Whether `name` exists, asked exactly (`=name`).
    public func has(_ name: String) -> Bool {
        run(["has-session", "-t", "=\(name)"]).termination == .exited(0)
    }

    /// Kills the server now.
    public func kill() { _ = run(["kill-server"]) }
}

/// The `vigil` executable built next to the test bundle.
public enum VigilBinary {
    /// Its path: the test binary's folder, where SwiftPM puts every product.
    public static var path: String {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        precondition(n > 0, "cannot read /proc/self/exe")
        var exe = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // .../debug/VigilPackageTests.xctest (a file on Linux)
        while let slash = exe.lastIndex(of: "/") {
            exe = String(exe[..<slash])
            if access("\(exe)/vigil", X_OK) == 0 { return "\(exe)/vigil" }
        }
        preconditionFailure("vigil binary not found next to the test bundle")
    }

    /// Runs `vigil ARGS...` and returns its outcome (stdout/stderr captured up to 64 MiB).
    public static func run(_ args: [String], environment: Environment = .inherit, timeout: Duration = .seconds(60)) -> Outcome {
        var c = Command(path, arguments: args, environment: environment, timeout: timeout)
        c.stdoutLimit = 64 << 20
        c.stderrLimit = 64 << 20
        return Spawner().runSynchronously(c)
    }
}
