public import VigilCore
import Synchronization

/// What a worker is launched for.
public struct WorkerRequest: Sendable, Hashable {
    /// The store record's id.
    public var id: String
    /// `tmux`, `zellij` or `herdr`.
    public var backend: String
    /// The multiplexer session to re-attach to.
    public var backendSession: String
    /// The tmux `-L` socket name, if the record has one.
    public var socket: String?

    /// Creates a request.
    public init(id: String, backend: String, backendSession: String, socket: String? = nil) {
        self.id = id
        self.backend = backend
        self.backendSession = backendSession
        self.socket = socket
    }
}

/// How a launch went.
public enum WorkerLaunchResult: Sendable, Hashable {
    /// The worker runs with this pid.
    case launched(pid: Int32)
    /// Nothing was launched, and why.
    case notLaunched(reason: String)
}

/// Starts the worker that re-attaches to a live session.
public protocol WorkerLauncher: Sendable {
    /// Launches one worker; returns once it has been spawned (not when it ends).
    func launch(_ request: WorkerRequest) async -> WorkerLaunchResult
}

/// A launcher that launches nothing: for `--dry-run`, for benchmarks, and
/// when no worker command is configured.
public struct NoWorkerLauncher: WorkerLauncher {
    let reason: String

    /// Creates a launcher that answers `notLaunched(reason)`.
    public init(reason: String = "no worker command configured") { self.reason = reason }

    /// Never launches.
    public func launch(_ request: WorkerRequest) async -> WorkerLaunchResult { .notLaunched(reason: reason) }
}

/// A worker command line with placeholders, split into words without a shell.
///
/// `{id}`, `{session}`, `{backend}` and `{socket}` are replaced in every
/// argument (and in the log path) by the record's values.
public struct WorkerTemplate: Sendable, Hashable {
    /// The executable and its arguments, placeholders unexpanded.
    public var argv: [String]
    /// Where the worker's stdout and stderr go; `/dev/null` when `nil`.
    public var logPath: String?
    /// The worker's environment.
    public var environment: Environment {
        get { environmentBox.value }
        set { environmentBox = EnvironmentBox(newValue) }
    }

    private var environmentBox = EnvironmentBox(.inherit)

    /// Creates a template from words.
    /// - Throws: `WorkerTemplateError.empty` when there is no executable.
    public init(argv: [String], logPath: String? = nil) throws(WorkerTemplateError) {
        guard let first = argv.first, !first.isEmpty else { throw .empty }
        self.argv = argv
        self.logPath = logPath
    }

    /// Splits a command line into words the way a user expects from
    /// `--worker 'node worker.js --id {id}'`: blanks separate words, single
    /// quotes keep everything literal, double quotes keep blanks, a backslash
    /// escapes the next character. Nothing is expanded: no variables, no
    /// globs, no shell.
    public static func parse(_ line: String, logPath: String? = nil) throws(WorkerTemplateError) -> WorkerTemplate {
        var words: [String] = []
        var word = ""
        var inWord = false
        var quote: Character? = nil
        var escaped = false
        for ch in line {
            if escaped { word.append(ch); escaped = false; inWord = true; continue }
            if let q = quote {
                if ch == q { quote = nil } else if ch == "\\" && q == "\"" { escaped = true } else { word.append(ch) }
                continue
            }
            switch ch {
            case " ", "\t", "\n":
                if inWord { words.append(word); word = ""; inWord = false }
            case "'", "\"":
                quote = ch
                inWord = true
            case "\\":
                escaped = true
            default:
                word.append(ch)
                inWord = true
            }
        }
        if quote != nil { throw .unbalancedQuote }
        if escaped { throw .trailingBackslash }
        if inWord { words.append(word) }
        return try WorkerTemplate(argv: words, logPath: logPath)
    }

    /// The template with the placeholders filled in for `request`.
    public func command(for request: WorkerRequest) -> WorkerCommand {
        let filled = argv.map { Self.expand($0, request) }
        return WorkerCommand(filled[0], arguments: Array(filled.dropFirst()), environment: environment,
                             logPath: logPath.map { Self.expand($0, request) })
    }

    static func expand(_ text: String, _ r: WorkerRequest) -> String {
        guard text.contains("{") else { return text }
        var out = ""
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            out += rest[..<open]
            let after = rest[open...]
            if after.hasPrefix("{id}") { out += r.id; rest = after.dropFirst(4) }
            else if after.hasPrefix("{session}") { out += r.backendSession; rest = after.dropFirst(9) }
            else if after.hasPrefix("{backend}") { out += r.backend; rest = after.dropFirst(9) }
            else if after.hasPrefix("{socket}") { out += r.socket ?? ""; rest = after.dropFirst(8) }
            else { out += "{"; rest = after.dropFirst() }
        }
        return out + rest
    }
}

/// Why a worker command line was refused.
public enum WorkerTemplateError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No executable.
    case empty
    /// A quote was opened and never closed.
    case unbalancedQuote
    /// The line ends in a lone backslash.
    case trailingBackslash

    /// One line for `Error: ...`.
    public var description: String {
        switch self {
        case .empty: return "worker command is empty"
        case .unbalancedQuote: return "worker command has an unbalanced quote"
        case .trailingBackslash: return "worker command ends with a lone backslash"
        }
    }
}

/// `Environment` is a value with a reference inside; boxed so the template stays `Hashable`.
struct EnvironmentBox: Sendable, Hashable {
    let value: Environment
    init(_ value: Environment) { self.value = value }
    static func == (a: EnvironmentBox, b: EnvironmentBox) -> Bool { a.value.entries == b.value.entries }
    func hash(into h: inout Hasher) { h.combine(value.entries) }
}

/// Launches workers from a template through the spawn core: no shell, a new
/// session, stdin on /dev/null, output to /dev/null or a log file. The
/// spawner's reactor reaps each worker when it exits, so a long-running
/// daemon never collects zombies; `running` says which are alive.
public final class CommandWorkerLauncher: WorkerLauncher {
    /// The command line with placeholders.
    public let template: WorkerTemplate
    private let spawner: Spawner
    private let logger: RestoreLogger
    /// Workers alive, and exits that were reported before their launch was
    /// recorded (a worker that ends at once). Spawning happens outside the
    /// lock, so launches really run side by side.
    private struct Table {
        var live: [Int32: String] = [:]
        var exitedEarly: Set<Int32> = []
    }
    private let table = Mutex(Table())

    /// Creates a launcher.
    /// - Parameters:
    ///   - template: what to run.
    ///   - spawner: whose reactor follows the workers; share the daemon's.
    ///   - logger: told when a worker exits.
    public init(template: WorkerTemplate, spawner: Spawner = Spawner(), logger: RestoreLogger = .standardError) {
        self.template = template
        self.spawner = spawner
        self.logger = logger
    }

    /// Pids of the workers this launcher started that have not exited yet, with their session ids.
    public var running: [Int32: String] { table.withLock { $0.live } }

    /// Spawns the worker; returns its pid, or why it could not start.
    public func launch(_ request: WorkerRequest) async -> WorkerLaunchResult {
        let command = template.command(for: request)
        let result = spawner.launch(command) { [self] outcome in
            if let pid = outcome.pid {
                table.withLock { t in
                    if t.live.removeValue(forKey: pid) == nil { t.exitedEarly.insert(pid) }
                }
            }
            logger.info("worker for \(request.backendSession) ended: \(outcome.termination)", session: request.id)
        }
        switch result {
        case .launched(let pid):
            table.withLock { t in
                if t.exitedEarly.remove(pid) == nil { t.live[pid] = request.id }
            }
            return .launched(pid: pid)
        case .failed(let outcome):
            return .notLaunched(reason: outcome.failureReason(program: command.executable, timeout: nil))
        }
    }
}
