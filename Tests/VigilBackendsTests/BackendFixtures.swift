// Helpers for the backend tests only: call-logging fixture executables,
// retry policies and deadlines that survive a loaded machine, and the tmux
// backend aimed at a test server. Temporary folders, the fixture writer and
// the tmux server itself are shared, in VigilTestSupport.
import VigilBackends
import VigilCore
import VigilTestSupport

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
        for a in "$@"; do printf '[%s]' "$a" >> '\(log)'; done
        printf '\\n' >> '\(log)'
        n=$(cat '\(count)' 2>/dev/null || echo 0)
        n=$((n + 1))
        echo "$n" > '\(count)'
        \(body)

        """
        path = try directory.fixture(name, script)
    }

    /// Each call's argv, one `[a][b]` line a call.
    var calls: [String] { directory.lines("calls.log") }
}

// MARK: - Policies and outcomes

/// A retry policy that keeps tests fast: `attempts` tries, 10 ms apart, and
/// no overall deadline (the whole package's tests run in parallel in one
/// process and can load the machine heavily).
func quickRetry(_ attempts: Int = 3) -> RetryPolicy {
    // No overall deadline: tests count attempts, and on a loaded CI machine
    // (hundreds of tests on two processors) a task can wait long enough
    // between attempts for any deadline to cut the last one (2 of 3 seen
    // once, with 60 s). The deadline's own tests set theirs.
    RetryPolicy(maxAttempts: attempts, baseDelay: .milliseconds(10), maxDelay: .milliseconds(20), jitter: 0, overallDeadline: nil)
}

/// The core's default policy (3 attempts, 150 ms backoff with jitter) without
/// its overall deadline, which a loaded machine can cross (tests count the
/// attempts).
let defaultRetryUnderLoad = RetryPolicy(overallDeadline: nil)

/// A per-call deadline for tests that do not test deadlines: a fixture or
/// tmux call on a loaded machine can take seconds.
let testTimeout = Duration.seconds(20)

/// Captured text for hand-made outcomes.
func captured(_ text: String, truncated: Bool = false) -> CapturedOutput {
    CapturedOutput(bytes: Array(text.utf8), truncated: truncated)
}

// MARK: - The tmux backend on a test server

extension TmuxServer {
    /// The backend's name for this server's socket.
    var backendSocket: TmuxSocket {
        switch socket {
        case .default: return .default
        case .name(let n): return .name(n)
        case .path(let p): return .path(p)
        }
    }

    /// A backend configuration aimed at this server.
    func configuration(retry: RetryPolicy = quickRetry()) -> TmuxConfiguration {
        TmuxConfiguration(socket: backendSocket, environment: environment, timeout: testTimeout, retry: retry, spawner: Spawner())
    }
}
