#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
internal import CVigil

/// One command to run without a shell, with everything that shapes its run.
///
/// The executable is resolved by `posix_spawnp`: a bare name is looked up on
/// the child's `PATH`, a name containing `/` is used as a path. No shell is
/// ever involved, because a shell turns "not found" (ENOENT) into its own
/// exit status 127, which a caller would read as an answer from the program.
public struct Command: Sendable {
    /// Executable name (looked up on `PATH`) or path.
    public var executable: String
    /// Arguments after `argv[0]`.
    public var arguments: [String]
    /// `argv[0]`; the executable when `nil`.
    public var argv0: String?
    /// The child's whole environment.
    public var environment: Environment
    /// Working directory for the child; the caller's when `nil`.
    public var workingDirectory: String?
    /// How long the child may run before its process group is killed; `nil` for no limit.
    public var timeout: Duration?
    /// Bytes of stdout to keep; 0 sends stdout to `/dev/null` (or `outputPath`).
    public var stdoutLimit: Int
    /// Bytes of stderr to keep; 0 sends stderr to `/dev/null` (or `outputPath` when stdout is not captured either).
    public var stderrLimit: Int
    /// When stdout is not captured: a file to append stdout (and, if uncaptured, stderr) to.
    /// Opened with `O_NOFOLLOW` (a symbolic link there fails the spawn with
    /// ELOOP) and created with mode 0600 (less the umask).
    public var outputPath: String?
    /// After the child is reaped, how long to keep reading pipes that a
    /// grandchild may still hold open before returning what was read.
    public var drainAfterExit: Duration
    /// The signal sent to the child's process group when the timeout expires.
    public var timeoutSignal: Signal
    /// When `timeoutSignal` is not `SIGKILL`: how long to wait before escalating to `SIGKILL`.
    public var escalationDelay: Duration
    /// Start the child in a new session (`setsid`) rather than only a new
    /// process group: for long-lived workers detached from the caller's terminal.
    public var newSession: Bool
    /// Once the child has exited (and before it is reaped), send SIGKILL to
    /// whatever is left of its process group, as after a timeout: a probe
    /// that started `cmd &` leaves nothing running. On by default;
    /// `Spawner.launch` ignores it (a worker's group is its own business).
    /// A process that left the group (`setsid`, like a tmux server) is not reached.
    public var killGroupAfterExit: Bool

    /// Creates a command with safe defaults for a probe: 3 s timeout, 64 KiB
    /// of stdout and stderr kept, 50 ms drain, `SIGKILL` at the deadline.
    public init(
        _ executable: String,
        arguments: [String] = [],
        environment: Environment = .inherit,
        workingDirectory: String? = nil,
        timeout: Duration? = .seconds(3),
        stdoutLimit: Int = 64 * 1024,
        stderrLimit: Int = 64 * 1024
    ) {
        self.executable = executable
        self.arguments = arguments
        self.argv0 = nil
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.timeout = timeout
        self.stdoutLimit = stdoutLimit
        self.stderrLimit = stderrLimit
        self.outputPath = nil
        self.drainAfterExit = .milliseconds(50)
        self.timeoutSignal = .kill
        self.escalationDelay = .milliseconds(500)
        self.newSession = false
        self.killGroupAfterExit = true
    }
}

/// A long-lived child, such as a worker that re-attaches to a session.
///
/// Unlike `Command` it has no deadline and captures nothing: the child runs
/// until it exits, its stdout and stderr go to `logPath` (appended) or to
/// `/dev/null`. Only `Spawner.launch` takes it.
public struct WorkerCommand: Sendable {
    /// Executable name (looked up on `PATH`) or path.
    public var executable: String
    /// Arguments after `argv[0]`.
    public var arguments: [String]
    /// `argv[0]`; the executable when `nil`.
    public var argv0: String?
    /// The child's whole environment.
    public var environment: Environment
    /// Working directory for the child; the caller's when `nil`.
    public var workingDirectory: String?
    /// A file the child's stdout and stderr are appended to; `/dev/null` when `nil`.
    public var logPath: String?
    /// Start the child in a new session (`setsid`), detached from the
    /// caller's terminal and process group; `true` by default.
    public var newSession: Bool

    /// Creates a worker command.
    public init(
        _ executable: String,
        arguments: [String] = [],
        environment: Environment = .inherit,
        workingDirectory: String? = nil,
        logPath: String? = nil,
        newSession: Bool = true
    ) {
        self.executable = executable
        self.arguments = arguments
        self.argv0 = nil
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.logPath = logPath
        self.newSession = newSession
    }

    /// The run the reactor follows: no deadline, nothing captured.
    var command: Command {
        var c = Command(executable, arguments: arguments, environment: environment,
                        workingDirectory: workingDirectory, timeout: nil, stdoutLimit: 0, stderrLimit: 0)
        c.argv0 = argv0
        c.outputPath = logPath
        c.newSession = newSession
        return c
    }
}

/// The environment a child starts with.
///
/// Built once and shared: a backend makes its environment when it is
/// configured, and every probe reuses the same C array.
public struct Environment: Sendable {
    let block: EnvironmentBlock?

    /// The caller's environment (`environ`) as it is when each child starts.
    public static var inherit: Environment { Environment(block: nil) }

    /// Exactly these `KEY=VALUE` pairs, in this order.
    public static func exactly(_ pairs: [(String, String)]) -> Environment {
        Environment(block: EnvironmentBlock(entries: pairs.map { "\($0.0)=\($0.1)" }))
    }

    /// A snapshot of the caller's environment, taken now, without the keys in
    /// `removing` and with `setting` applied on top (in key order).
    public static func inherited(removing: Set<String> = [], setting: [String: String] = [:]) -> Environment {
        var entries: [String] = []
        guard var p = vigil_environ() else { return Environment(block: EnvironmentBlock(entries: setting.keys.sorted().map { "\($0)=\(setting[$0]!)" })) }
        while let entryPointer = p.pointee {
            let entry = String(cString: entryPointer)
            let key = Self.key(of: entry)
            if !removing.contains(key) && setting[key] == nil { entries.append(entry) }
            p += 1
        }
        for key in setting.keys.sorted() { entries.append("\(key)=\(setting[key]!)") }
        return Environment(block: EnvironmentBlock(entries: entries))
    }

    /// This environment without the keys in `keys`, as a fixed list (for
    /// `.inherit`, a snapshot of the caller's environment, taken now).
    public func removing(_ keys: Set<String>) -> Environment {
        Environment(block: EnvironmentBlock(entries: entries.filter { !keys.contains(Self.key(of: $0)) }))
    }

    /// The key of a `KEY=VALUE` entry (the whole entry when it has no `=`).
    static func key(of entry: String) -> String {
        entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? entry
    }

    /// The `KEY=VALUE` entries the child will get (for `.inherit`, the caller's now).
    public var entries: [String] {
        if let block { return block.entries }
        var result: [String] = []
        guard var p = vigil_environ() else { return result }
        while let entry = p.pointee { result.append(String(cString: entry)); p += 1 }
        return result
    }

    /// The value of `key` as the child will see it.
    public func value(of key: String) -> String? {
        let prefix = key + "="
        for entry in entries where entry.hasPrefix(prefix) { return String(entry.dropFirst(prefix.count)) }
        return nil
    }
}

/// An immutable, NULL-terminated `KEY=VALUE` C array.
///
/// `@unchecked Sendable`: written once in `init`, only read afterwards, freed in `deinit`.
final class EnvironmentBlock: @unchecked Sendable {
    let entries: [String]
    let array: CStringArray
    /// True when an entry holds a NUL byte and cannot be passed to the child.
    let invalid: Bool

    init(entries: [String]) {
        self.entries = entries
        self.invalid = entries.contains { $0.utf8.contains(0) }
        self.array = CStringArray(entries)
    }
}

/// A NULL-terminated array of C strings in one allocation.
final class CStringArray {
    let pointers: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>

    init(_ strings: [String]) {
        var bytes = 0
        for s in strings { bytes += s.utf8.count + 1 }
        let slots = strings.count + 1
        let header = slots * MemoryLayout<UnsafeMutablePointer<CChar>?>.stride
        let raw = UnsafeMutableRawPointer.allocate(byteCount: header + bytes, alignment: 16)
        pointers = raw.bindMemory(to: UnsafeMutablePointer<CChar>?.self, capacity: slots)
        var cursor = (raw + header).assumingMemoryBound(to: CChar.self)
        for (i, s) in strings.enumerated() {
            pointers[i] = cursor
            for byte in s.utf8 { cursor.pointee = CChar(bitPattern: byte); cursor += 1 }
            cursor.pointee = 0
            cursor += 1
        }
        pointers[strings.count] = nil
    }

    deinit { UnsafeMutableRawPointer(pointers).deallocate() }
}
