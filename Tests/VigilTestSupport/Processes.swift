// Running commands the four ways the core can, the state of processes as
// /proc reports it, and the built `vigil` executable.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif // canImport(Glibc)
public import VigilCore

// MARK: - Running commands

/// The four ways to run a command: synchronous or async, pidfd or portable wait.
public enum RunMode: String, CaseIterable, Sendable {
    case syncPidfd, syncPortable, asyncPidfd, asyncPortable

    public var strategy: WaitStrategy {
        switch self {
        case .syncPidfd, .asyncPidfd: return .pidfd
        case .syncPortable, .asyncPortable: return .portable
        }
    }

    public func run(_ command: Command, spawner: Spawner? = nil) async -> Outcome {
        var s = spawner ?? Spawner()
        s.waitStrategy = strategy
        switch self {
        case .syncPidfd, .syncPortable: return s.runSynchronously(command)
        case .asyncPidfd, .asyncPortable: return await s.run(command)
        }
    }
}

/// `/bin/sh -c SCRIPT` as a command (fixtures only; production code never uses a shell).
public func shell(_ script: String, timeout: Duration? = .seconds(20)) -> Command {
    Command("/bin/sh", arguments: ["-c", script], timeout: timeout)
}

// MARK: - Process state

/// The number of open descriptors in this process.
public func openDescriptorCount() -> Int {
    folderNames("/proc/self/fd").count - 1 // the listing's own descriptor
}

/// The fields of /proc/PID/stat after the command name (state first, then
/// the parent pid), or `nil` when the process is gone.
private func statFields(_ pid: Int32) -> [Substring]? {
    guard let text = try? readText("/proc/\(pid)/stat"),
          let close = text.lastIndex(of: ")") else { return nil }
    // The command name may hold spaces and parentheses; it ends at the last ')'.
    let fields = text[text.index(after: close)...].split(separator: " ")
    return fields.isEmpty ? nil : fields
}

/// The state letter from /proc/PID/stat, `nil` when the process is gone.
public func processState(_ pid: Int32) -> Character? {
    statFields(pid)?.first?.first
}

/// The parent pid from /proc/PID/stat.
public func parentPID(_ pid: Int32) -> Int32? {
    guard let fields = statFields(pid), fields.count > 1 else { return nil }
    return Int32(fields[1])
}

/// Whether `pid` is still a process that is not a zombie.
public func isRunning(_ pid: Int32) -> Bool {
    guard let state = processState(pid) else { return false }
    return state != "Z" && state != "X"
}

/// True when `pid` is an unreaped child of this process (a zombie we leaked).
public func isOurZombie(_ pid: Int32) -> Bool {
    processState(pid) == "Z" && parentPID(pid) == getpid()
}

/// The value of field `name` (`SigIgn`, `PPid`...) in /proc/PID/status, or
/// `nil` when the process is gone.
public func procStatusField(_ pid: Int32, _ name: String) -> String? {
    guard let text = try? readText("/proc/\(pid)/status") else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
        return String(line.dropFirst(name.count + 1).drop { $0 == " " || $0 == "\t" })
    }
    return nil
}

/// True when `pid` is gone, a zombie, or has SIGKILL pending (it cannot
/// block or ignore it, so it is as good as gone). No waiting: a check of the
/// moment, for asserting that something was killed without a time bound.
public func isGoneOrDying(_ pid: Int32) -> Bool {
    guard isRunning(pid) else { return true }
    let sigkill = UInt64(1) << (UInt64(SIGKILL) - 1)
    for field in ["SigPnd", "ShdPnd"] {
        if let hex = procStatusField(pid, field), let mask = UInt64(hex, radix: 16), mask & sigkill != 0 { return true }
    }
    return !isRunning(pid)
}

// MARK: - The test executable and the vigil binary

/// The path of the running test executable, from /proc/self/exe.
public func currentExecutable() -> String? {
    var buffer = [CChar](repeating: 0, count: 4096)
    let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard length > 0 else { return nil }
    return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// The `vigil` executable built next to the test bundle.
public enum VigilBinary {
    /// Its path: the test binary's folder, where SwiftPM puts every product.
    public static var path: String {
        // .../debug/VigilPackageTests.xctest (a file on Linux)
        guard var exe = currentExecutable() else { preconditionFailure("cannot read /proc/self/exe") }
        while let slash = exe.lastIndex(of: "/") {
            exe = String(exe[..<slash])
            if access("\(exe)/vigil", X_OK) == 0 { return "\(exe)/vigil" }
        }
        preconditionFailure("vigil binary not found next to the test bundle")
    }

    /// Runs `vigil ARGS...` and returns its outcome (stdout/stderr captured up to 64 MiB).
    public static func run(_ args: [String], environment: Environment = .inherit, timeout: Duration = .seconds(60)) -> Outcome {
        Spawner().runSynchronously(command(args, environment: environment, timeout: timeout))
    }

    /// `run` for async tests: waits on the spawner's reactor, so the test
    /// holds no thread of the cooperative pool (as few as two, shared with
    /// every other test) while vigil runs.
    public static func runAsync(_ args: [String], environment: Environment = .inherit, timeout: Duration = .seconds(60)) async -> Outcome {
        await Spawner().run(command(args, environment: environment, timeout: timeout))
    }

    private static func command(_ args: [String], environment: Environment, timeout: Duration) -> Command {
        var c = Command(path, arguments: args, environment: environment, timeout: timeout)
        c.stdoutLimit = 64 << 20
        c.stderrLimit = 64 << 20
        return c
    }
}

/// Runs `command` to its end on a thread of its own, starting now rather
/// than whenever the cooperative pool (two threads here, shared with every
/// other test) next has one free, and calls `onExit` with its outcome (its
/// output captured, as `runSynchronously` captures it) on that thread.
///
/// For tests that start a process and go on while it runs; `Spawner.launch`
/// is for workers and captures nothing.
public func runInBackground(_ command: Command, onExit: @escaping @Sendable (Outcome) -> Void) {
    final class Job: @unchecked Sendable {
        let command: Command
        let onExit: @Sendable (Outcome) -> Void
        init(_ command: Command, _ onExit: @escaping @Sendable (Outcome) -> Void) { self.command = command; self.onExit = onExit }
    }
    let context = Unmanaged.passRetained(Job(command, onExit)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(&thread, nil, { raw in
        let job = Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue()
        job.onExit(Spawner().runSynchronously(job.command))
        return nil
    }, context)
    if rc != 0 {
        let job = Unmanaged<Job>.fromOpaque(context).takeRetainedValue()
        job.onExit(Outcome(termination: .spawnFailed(Errno(rawValue: rc))))
        return
    }
    pthread_detach(thread)
}
