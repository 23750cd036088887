public import VigilSystem

/// How a run ended. Each case is distinct: a spawn errno is never an exit
/// code, a signal we sent at the deadline is never a crash.
public enum Termination: Sendable, Hashable, CustomStringConvertible {
    /// `posix_spawnp` (or its setup) failed; the program never ran.
    case spawnFailed(Errno)
    /// The program exited normally with this code (0...255).
    case exited(Int32)
    /// The program was killed by a signal that Vigil did not send.
    case signaled(Signal)
    /// The deadline passed; Vigil killed the process group with this signal.
    case timedOut(Signal)
    /// Waiting failed, typically `ECHILD` because the host process ignores
    /// `SIGCHLD` (the kernel then reaps children itself and the status is lost).
    case waitFailed(Errno)
    /// The task awaiting the run was cancelled: the child's process group
    /// got the timeout signal (escalated like a timeout) and was reaped, or,
    /// when the task was cancelled before the spawn, nothing ran.
    case cancelled

    /// True only for `exited(0)`.
    public var isSuccess: Bool { self == .exited(0) }

    /// A short human form: "exit 1", "killed by SIGSEGV", "spawn failed: ... (ENOENT)".
    public var description: String {
        switch self {
        case .spawnFailed(let e): return "spawn failed: \(e)"
        case .exited(let code): return "exit \(code)"
        case .signaled(let s): return "killed by \(s)"
        case .timedOut(let s): return "timed out (\(s) sent)"
        case .waitFailed(let e): return "wait failed: \(e)"
        case .cancelled: return "cancelled"
        }
    }
}

/// Bytes captured from one of the child's output streams.
public struct CapturedOutput: Sendable, Hashable {
    /// The bytes kept, at most the command's limit.
    public var bytes: [UInt8]
    /// True when the child wrote more than the limit; the rest was read and dropped.
    public var truncated: Bool

    /// An empty capture.
    public init(bytes: [UInt8] = [], truncated: Bool = false) {
        self.bytes = bytes
        self.truncated = truncated
    }

    /// The bytes decoded as UTF-8, invalid sequences repaired.
    public var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// Everything known about one finished run.
public struct Outcome: Sendable {
    /// How the run ended.
    public var termination: Termination
    /// Captured stdout (empty when not captured).
    public var stdout: CapturedOutput
    /// Captured stderr (empty when not captured).
    public var stderr: CapturedOutput
    /// From just before the spawn to the reaping of the child.
    public var elapsed: Duration
    /// The child's pid, or `nil` when the spawn failed.
    public var pid: Int32?
    /// Whether the pidfd or the portable waitpid path followed the child.
    public var waitStrategy: WaitStrategy
    /// For a spawn failure that a file action caused rather than the
    /// executable (a missing working directory, an unwritable log file):
    /// which one. posix_spawn reports both with the same errno.
    public var spawnFailureDetail: String?
    /// What the child used (CPU time, context switches, peak memory), from
    /// the `rusage` of the `wait4` that reaped it. `nil` when no child was
    /// reaped: a spawn failure, a lost exit status (`waitFailed`), a run
    /// cancelled before its spawn. Present for every other outcome,
    /// `timedOut` and `cancelled` included.
    public var usage: ResourceUsage?

    /// Creates an outcome; mostly for tests and fakes.
    public init(
        termination: Termination,
        stdout: CapturedOutput = CapturedOutput(),
        stderr: CapturedOutput = CapturedOutput(),
        elapsed: Duration = .zero,
        pid: Int32? = nil,
        waitStrategy: WaitStrategy = .portable,
        usage: ResourceUsage? = nil
    ) {
        self.termination = termination
        self.stdout = stdout
        self.stderr = stderr
        self.elapsed = elapsed
        self.pid = pid
        self.waitStrategy = waitStrategy
        self.spawnFailureDetail = nil
        self.usage = usage
    }

    /// Why this run cannot answer anything, in words a log reader acts on:
    /// "tmux not found on PATH (ENOENT)", "/x/tmux is not executable (EACCES)",
    /// "tmux timed out after 3000 ms", "tmux killed by SIGSEGV", or for an
    /// exit, "tmux exit 3: <first stderr line>".
    ///
    /// - Parameters:
    ///   - program: the executable as configured (name or path).
    ///   - timeout: the deadline that applied, for the timeout wording.
    public func failureReason(program: String, timeout: Duration?) -> String {
        switch termination {
        case .spawnFailed(let e):
            if let spawnFailureDetail { return "\(program) could not be started: \(spawnFailureDetail) (\(e.name))" }
            let onPath = !program.contains("/")
            switch e {
            case .noSuchFile:
                return onPath ? "\(program) not found on PATH (ENOENT)" : "\(program) does not exist (ENOENT)"
            case .permissionDenied:
                return "\(program) is not executable or not reachable (EACCES)"
            case .execFormat:
                return "\(program) is not a valid executable (ENOEXEC)"
            case .notDirectory:
                return "\(program): a path component is not a directory (ENOTDIR)"
            default:
                return "\(program) could not be started: \(e)"
            }
        case .exited(let code):
            let line = Self.firstLine(of: stderr.text)
            return line.isEmpty ? "\(program) exit \(code)" : "\(program) exit \(code): \(line)"
        case .signaled(let s):
            return "\(program) killed by \(s)"
        case .timedOut(let s):
            let ms = timeout.map { String($0.milliseconds) } ?? "?"
            return "\(program) timed out after \(ms) ms (\(s.name) sent to its process group)"
        case .waitFailed(let e):
            return "\(program) ran but its exit status was lost: \(e)"
        case .cancelled:
            return "\(program): the caller cancelled the call"
        }
    }

    /// The first non-empty line of `text`, trimmed, at most 200 characters.
    public static func firstLine(of text: String) -> String {
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let trimmed = line.trimmingSpaces()
            if !trimmed.isEmpty { return String(trimmed.prefix(200)) }
        }
        return ""
    }
}

extension Duration {
    /// Whole milliseconds, rounded down.
    public var milliseconds: Int64 {
        let c = components
        return c.seconds * 1000 + c.attoseconds / 1_000_000_000_000_000
    }

    /// Whole nanoseconds, saturating.
    var nanoseconds: Int64 {
        let c = components
        let (s, o) = c.seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if o { return c.seconds < 0 ? .min : .max }
        let (t, o2) = s.addingReportingOverflow(c.attoseconds / 1_000_000_000)
        return o2 ? .max : t
    }
}
