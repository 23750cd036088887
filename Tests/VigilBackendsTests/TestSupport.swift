// Helpers for the backend tests: a temporary directory, a fixture
// executable writer, and a tmux server on a private socket that is always
// killed at the end.
//
// Fixtures are `#!/bin/sh` scripts: a shell is fine in test fixtures (they
// stand in for zellij and herdr, which cannot be installed here); production
// code never runs one.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import Testing
import VigilBackends
import VigilCore

/// Distinguishes the private tmux sockets and directories of one test run.
let testCounter = Atomic<Int>(0)

func nextTestID() -> String {
    "\(getpid())-\(testCounter.add(1, ordering: .relaxed).newValue)"
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
}

// MARK: - Temporary directory

/// A fresh directory under /tmp, removed with everything in it on `deinit`.
final class TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/vigil-backends-\(nextTestID())-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw TestFailure(description: "mkdtemp failed: errno \(errno)")
        }
        path = String(cString: made)
    }

    deinit {
        _ = Spawner().runSynchronously(Command("/bin/rm", arguments: ["-rf", path], timeout: .seconds(10)))
    }

    /// `path/name`.
    func file(_ name: String) -> String { path + "/" + name }

    /// Writes `text` to `name` with `mode` and returns the path.
    @discardableResult
    func writeFile(_ name: String, _ text: String, mode: mode_t = 0o644) throws -> String {
        let target = file(name)
        // O_CLOEXEC: a child spawned by a concurrent test must not keep this
        // descriptor past its exec, or running the file fails with ETXTBSY.
        let fd = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw TestFailure(description: "open \(target): errno \(errno)") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; throw TestFailure(description: "write \(target): errno \(errno)") }
            offset += n
        }
        guard chmod(target, mode) == 0 else { throw TestFailure(description: "chmod \(target): errno \(errno)") }
        return target
    }

    /// The contents of `name`, or `nil` when it does not exist.
    func readFile(_ name: String) -> String? {
        let fd = open(file(name), O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out.append(contentsOf: buffer[0..<n])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Makes directory `name` with `mode` (chmod after, so the umask does not interfere).
    @discardableResult
    func makeDirectory(_ name: String, mode: mode_t = 0o700) throws -> String {
        let target = file(name)
        guard mkdir(target, 0o700) == 0, chmod(target, mode) == 0 else {
            throw TestFailure(description: "mkdir \(target): errno \(errno)")
        }
        return target
    }

    /// The lines of `name` (empty when it does not exist).
    func lines(_ name: String) -> [String] {
        (readFile(name) ?? "").split(separator: "\n").map(String.init)
    }
}

// MARK: - Fixture executables

/// A `#!/bin/sh` fixture that logs each call's argv as one line of
/// `[arg][arg]...` to `calls.log`, counts calls in `count`, then runs `body`
/// (where `$n` is this call's number, from 1).
struct Fixture {
    let directory: TemporaryDirectory
    let path: String

    init(in directory: TemporaryDirectory, name: String = "fixture", body: String) throws {
        self.directory = directory
        let log = directory.file("calls.log")
        let count = directory.file("count")
        let script = """
        #!/bin/sh
        [ -n "$VIGIL_FIXTURE_PING" ] && exit 0
        for a in "$@"; do printf '[%s]' "$a" >> '\(log)'; done
        printf '\\n' >> '\(log)'
        n=$(cat '\(count)' 2>/dev/null || echo 0)
        n=$((n + 1))
        echo "$n" > '\(count)'
        \(body)

        """
        path = try directory.writeFile(name, script, mode: 0o755)
        try Self.waitUntilRunnable(path)
    }

    /// Runs the fixture in its silent ping mode until it is not ETXTBSY.
    ///
    /// Between a concurrent test's clone and its exec, that child holds a
    /// copy of our (close-on-exec) write descriptor, and exec of the file
    /// fails with ETXTBSY; the window closes at that child's exec.
    private static func waitUntilRunnable(_ path: String) throws {
        let ping = Command(path, environment: .inherited(setting: ["VIGIL_FIXTURE_PING": "1"]), timeout: .seconds(10),
                           stdoutLimit: 0, stderrLimit: 0)
        for _ in 0..<200 {
            let outcome = Spawner().runSynchronously(ping)
            if outcome.termination == .exited(0) { return }
            guard outcome.termination == .spawnFailed(.textFileBusy) else {
                throw TestFailure(description: "fixture \(path) does not run: \(outcome.termination)")
            }
            usleep(1000)
        }
        throw TestFailure(description: "fixture \(path) stayed busy (ETXTBSY)")
    }

    /// Each call's argv, one `[a][b]` line a call.
    var calls: [String] { directory.lines("calls.log") }
}

/// A retry policy that keeps tests fast: `attempts` tries, 10 ms apart. The
/// overall deadline is generous because the whole package's tests run in
/// parallel in one process and can load the machine heavily.
func quickRetry(_ attempts: Int = 3) -> RetryPolicy {
    RetryPolicy(maxAttempts: attempts, baseDelay: .milliseconds(10), maxDelay: .milliseconds(20), jitter: 0, overallDeadline: .seconds(60))
}

/// The core's default policy (3 attempts, 150 ms backoff with jitter) with a
/// deadline that survives a loaded machine.
let defaultRetryUnderLoad = RetryPolicy(overallDeadline: .seconds(60))

/// A per-call deadline for tests that do not test deadlines: a fixture or
/// tmux call on a loaded machine can take seconds.
let testTimeout = Duration.seconds(20)

/// Captured text for hand-made outcomes.
func captured(_ text: String, truncated: Bool = false) -> CapturedOutput {
    CapturedOutput(bytes: Array(text.utf8), truncated: truncated)
}

// MARK: - tmux server on a private socket

/// A tmux server on a socket of its own, started through the core Spawner
/// (no shell), killed and its socket file removed by `tearDown()`.
final class TmuxTestServer: Sendable {
    let socket: TmuxSocket
    /// Where the socket file is.
    let socketPath: String
    /// The environment every tmux call of the test uses (TMUX stripped).
    let environment: Environment
    private let setting: [String: String]

    /// - Parameters:
    ///   - socket: `.name` gets a fresh unique `vigil-test-<pid>-<n>` when `nil`.
    ///   - tmuxTmpdir: sets `TMUX_TMPDIR` for every call when given.
    init(socket: TmuxSocket? = nil, tmuxTmpdir: String? = nil) {
        let socket = socket ?? .name("vigil-test-\(nextTestID())")
        self.socket = socket
        var setting: [String: String] = [:]
        if let tmuxTmpdir { setting["TMUX_TMPDIR"] = tmuxTmpdir }
        self.setting = setting
        environment = .inherited(removing: ["TMUX", "TMUX_PANE"], setting: setting)
        let base = (tmuxTmpdir ?? environment.value(of: "TMUX_TMPDIR").flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp")
            + "/tmux-\(getuid())/"
        switch socket {
        case .default: socketPath = base + "default"
        case .name(let n): socketPath = base + n
        case .path(let p): socketPath = p
        }
    }

    /// A backend configuration aimed at this server.
    func configuration(retry: RetryPolicy = quickRetry()) -> TmuxConfiguration {
        TmuxConfiguration(socket: socket, environment: environment, timeout: testTimeout, retry: retry)
    }

    /// Runs `tmux <socket> args` synchronously through the core Spawner.
    @discardableResult
    func tmux(_ arguments: [String]) -> Outcome {
        let command = Command("tmux", arguments: socket.arguments + arguments, environment: environment,
                              timeout: testTimeout, stdoutLimit: 64 * 1024, stderrLimit: 64 * 1024)
        return Spawner().runSynchronously(command)
    }

    /// `tmux new-session -d -s name` (no config file), which starts the server if needed.
    func createSession(_ name: String) throws {
        let outcome = tmux(["-f", "/dev/null", "new-session", "-d", "-s", name])
        guard outcome.termination == .exited(0) else {
            throw TestFailure(description: "new-session \(name): \(outcome.failureReason(program: "tmux", timeout: testTimeout))")
        }
    }

    /// Kills the server (ignoring "no server") and removes the socket file,
    /// which tmux 3.3a leaves behind after kill-server.
    func tearDown() {
        tmux(["kill-server"])
        unlink(socketPath)
    }
}

/// Runs `body` with a fresh tmux server scope; the server is killed at the
/// end whether `body` returns, throws or records failed expectations.
func withTmuxServer<R>(
    socket: TmuxSocket? = nil, tmuxTmpdir: String? = nil, _ body: (TmuxTestServer) async throws -> R
) async throws -> R {
    let server = TmuxTestServer(socket: socket, tmuxTmpdir: tmuxTmpdir)
    do {
        let result = try await body(server)
        server.tearDown()
        return result
    } catch {
        server.tearDown()
        throw error
    }
}
