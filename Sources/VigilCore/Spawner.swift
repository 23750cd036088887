#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
internal import CVigil
import VigilSystem

/// How a run learns that its child exited.
///
/// `automatic` and `pidfd` wait the same way today (a pidfd where the kernel
/// gives one, else portable); both names stay so callers can say which they mean.
public enum WaitStrategy: Sendable, Hashable, CustomStringConvertible {
    /// pidfd where the kernel offers it (Linux 5.3+), else portable.
    case automatic
    /// Linux `pidfd_open(2)` polled together with the pipes; falls back to
    /// portable when the kernel refuses it (the same as `automatic`).
    case pidfd
    /// `wait4(pid, WNOHANG)` with a backoff from 50 µs to 5 ms between
    /// checks, polled together with the pipes. Works on every POSIX system
    /// (wait4 is waitpid plus the child's rusage; every target has it).
    case portable

    /// `automatic`, `pidfd` or `portable`.
    public var description: String {
        switch self {
        case .automatic: return "automatic"
        case .pidfd: return "pidfd"
        case .portable: return "portable"
        }
    }

    /// Whether the shim tries a pidfd first.
    var triesPidfd: Bool { self != .portable }
}

/// Runs commands through the C shim, synchronously or asynchronously.
///
/// A `Spawner` is a small value: copies share the same reactor (the one
/// thread that follows asynchronous runs). Nothing here is global: two
/// embedders in one process each make their own.
public struct Spawner: Sendable {
    /// How runs wait for their child.
    public var waitStrategy: WaitStrategy
    /// The reactor that follows asynchronous runs.
    public let reactor: SpawnReactor

    /// Creates a spawner.
    /// - Parameters:
    ///   - waitStrategy: pidfd or portable waiting; `.automatic` by default.
    ///   - reactor: share one between spawners to share its thread; a new one by default.
    public init(waitStrategy: WaitStrategy = .automatic, reactor: SpawnReactor = SpawnReactor()) {
        self.waitStrategy = waitStrategy
        self.reactor = reactor
    }

    /// Runs `command` to the end on the calling thread and returns how it went.
    ///
    /// Blocks the calling thread for the length of the run (bounded by the
    /// command's timeout plus its drain time). Use `run(_:)` from async code.
    public func runSynchronously(_ command: Command) -> Outcome {
        let job = Self.start(command, waitStrategy)
        vigil_job_wait(job)
        var outcome = Self.outcome(of: job, memorySlack: reactor.memorySlack)
        vigil_job_free(job)
        outcome.explainSpawnFailure(command)
        return outcome
    }

    /// Runs `command` and suspends until it ends, without holding a thread of
    /// the cooperative pool: the spawn happens on the caller's thread, the
    /// wait on the reactor's single thread, however many runs are in flight.
    ///
    /// Cancelling the calling task ends the run early: the child's process
    /// group gets the timeout signal (escalated as for a timeout), is reaped,
    /// and the outcome is `.cancelled`. A task cancelled before the spawn
    /// spawns nothing.
    public func run(_ command: Command) async -> Outcome {
        await reactor.run(command, waitStrategy: waitStrategy)
    }

    /// Starts a long-lived child (a worker) and returns its pid at once. The
    /// reactor follows the child and reaps it when it exits, then calls
    /// `onExit` on the reactor thread (keep it short).
    ///
    /// Takes a `WorkerCommand`, not a `Command`: a worker has no deadline and
    /// no captured output, so a probe's 3 s deadline can never kill it.
    public func launch(_ worker: WorkerCommand, onExit: @escaping @Sendable (Outcome) -> Void = { _ in }) -> Launch {
        reactor.launch(worker.command, waitStrategy: waitStrategy, onExit: onExit)
    }

    // MARK: - Bridging to the shim

    /// Starts `command` and returns its job (running, or finished as a
    /// spawn failure), for `vigil_job_free`; a NUL byte in any string is EINVAL.
    static func start(_ command: Command, _ strategy: WaitStrategy) -> OpaquePointer {
        let argvStrings = [command.argv0 ?? command.executable] + command.arguments
        let hasNul = command.executable.utf8.contains(0)
            || argvStrings.contains { $0.utf8.contains(0) }
            || (command.workingDirectory?.utf8.contains(0) ?? false)
            || (command.outputPath?.utf8.contains(0) ?? false)
            || (command.environment.block?.invalid ?? false)
        if hasNul || command.executable.isEmpty {
            return allocated(vigil_job_refused(Errno.invalidArgument.rawValue))
        }
        let argv = CStringArray(argvStrings)
        var request = vigil_request()
        request.timeout_ns = command.timeout.map { max(0, $0.nanoseconds) } ?? -1
        request.drain_ns = max(0, command.drainAfterExit.nanoseconds)
        request.kill_grace_ns = max(0, command.escalationDelay.nanoseconds)
        request.stdout_limit = max(0, command.stdoutLimit)
        request.stderr_limit = max(0, command.stderrLimit)
        request.kill_signal = command.timeoutSignal.rawValue
        request.try_pidfd = strategy.triesPidfd ? 1 : 0
        request.new_session = command.newSession ? 1 : 0
        request.kill_group_after_exit = command.killGroupAfterExit ? 1 : 0
        request.argv = UnsafePointer(argv.pointers)
        request.envp = command.environment.block.map { UnsafePointer($0.array.pointers) } ?? vigil_environ()
        let job = withExtendedLifetime((argv, command.environment.block)) {
            command.executable.withCString { file in
                request.file = file
                return withOptionalCString(command.workingDirectory) { cwd in
                    request.cwd = cwd
                    return withOptionalCString(command.outputPath) { log in
                        request.log_path = log
                        return vigil_job_start(&request)
                    }
                }
            }
        }
        return allocated(job)
    }

    /// The shim returns no job only when it cannot allocate one; Swift's own
    /// allocations stop the process then too.
    private static func allocated(_ job: OpaquePointer?) -> OpaquePointer {
        guard let job else { fatalError("Vigil: out of memory for a spawn job") }
        return job
    }

    /// Reads a finished job into an `Outcome` (copies the captured bytes).
    /// - Parameter memorySlack: see `PeakMemory.countingSlack(processors:pageSize:)`.
    static func outcome(of job: OpaquePointer, memorySlack: Int) -> Outcome {
        let status = vigil_job_status(job)
        let error = vigil_job_error(job)
        let termination: Termination
        switch UInt32(vigil_job_kind(job)) {
        case VIGIL_KIND_SPAWN_FAILED.rawValue: termination = .spawnFailed(Errno(rawValue: error))
        case VIGIL_KIND_EXITED.rawValue: termination = .exited(status)
        case VIGIL_KIND_SIGNALED.rawValue: termination = .signaled(Signal(rawValue: status))
        case VIGIL_KIND_TIMED_OUT.rawValue: termination = .timedOut(Signal(rawValue: status))
        case VIGIL_KIND_CANCELLED.rawValue: termination = .cancelled
        default: termination = .waitFailed(Errno(rawValue: error == 0 ? EINVAL : error))
        }
        let pid = vigil_job_pid(job)
        return Outcome(
            termination: termination,
            stdout: captured(job, fd: 1),
            stderr: captured(job, fd: 2),
            elapsed: .nanoseconds(vigil_job_elapsed_ns(job)),
            pid: pid > 0 ? pid : nil,
            waitStrategy: vigil_job_waits_on_pidfd(job) != 0 ? .pidfd : .portable,
            usage: ResourceUsage.of(job, slack: memorySlack)
        )
    }

    private static func captured(_ job: OpaquePointer, fd: Int32) -> CapturedOutput {
        var length = 0
        var truncated: Int32 = 0
        guard let data = vigil_job_output(job, fd, &length, &truncated) else {
            return CapturedOutput(truncated: truncated != 0)
        }
        return CapturedOutput(bytes: Array(UnsafeBufferPointer(start: data, count: length)), truncated: truncated != 0)
    }
}

extension Outcome {
    /// posix_spawn fails with the same errno whether the executable or a file
    /// action (chdir, opening the log file) was at fault. Only when the
    /// command has such an action and the errno could come from it, look at
    /// the action's path, after the fact, so the reason names the right thing.
    mutating func explainSpawnFailure(_ command: Command) {
        guard case .spawnFailed(let e) = termination,
              e == .noSuchFile || e == .permissionDenied || e == .notDirectory || e == .isDirectory || e == .tooManySymlinks,
              command.workingDirectory != nil || command.outputPath != nil else { return }
        if let dir = command.workingDirectory, access(dir, X_OK) != 0 {
            spawnFailureDetail = "working directory \(dir) is not usable"
        } else if let log = command.outputPath {
            // The same flags as the child's open (vigil_spawn.c): never follow a link.
            let fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0o600)
            if fd >= 0 {
                close(fd)
            } else if errno == ELOOP {
                spawnFailureDetail = "output file \(log) is a symbolic link, not followed"
            } else {
                spawnFailureDetail = "output file \(log) cannot be opened"
            }
        }
    }
}

@inline(__always)
private func withOptionalCString<R>(_ s: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let s else { return body(nil) }
    return s.withCString { body($0) }
}

/// Whether this kernel offers pidfds (checked each call, nothing cached).
public func pidfdSupported() -> Bool { vigil_pidfd_supported() != 0 }
