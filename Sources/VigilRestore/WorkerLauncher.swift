public import VigilCore
public import VigilBackends
import Synchronization

/// What a worker is launched for.
public struct WorkerRequest: Sendable, Hashable {
    /// The store record's id.
    public var id: String
    /// The multiplexer: `tmux`, `zellij` or `herdr`.
    public var backend: BackendKind
    /// The multiplexer session to re-attach to.
    public var backendSession: String
    /// The tmux `-L` socket name, if the record has one.
    public var socket: String?

    /// Creates a request.
    public init(id: String, backend: BackendKind, backendSession: String, socket: String? = nil) {
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
    /// Nothing was launched, and why (the executable or the log file could
    /// not be opened, no worker is configured, a dry run).
    case notLaunched(reason: String)
    /// Nothing was launched because the record's values cannot be used
    /// safely: a placeholder value that would leave the log path's folder,
    /// or a log file that is a symbolic link (see `WorkerRefusal`). Restore
    /// reports the record `keep`.
    case refused(reason: String)
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
/// argument and in the log path by the record's values. In an argument a
/// value is used as it is (no shell reads it). In the log path each value
/// must be one plain file name (see `pathValueProblem`), so the store can
/// never choose where Vigil writes.
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
    /// - Throws: `WorkerRefusal.unsafePathValue` when a value substituted
    ///   into the log path is not one plain file name; arguments are never refused.
    public func command(for request: WorkerRequest) throws(WorkerRefusal) -> WorkerCommand {
        let filled = argv.map { Self.expand($0, request) }
        return WorkerCommand(filled[0], arguments: Array(filled.dropFirst()), environment: environment,
                             logPath: try logPath(for: request))
    }

    /// The placeholders, and where their values come from.
    enum Placeholder: CaseIterable {
        case id, session, backend, socket

        var token: String {
            switch self {
            case .id: return "{id}"
            case .session: return "{session}"
            case .backend: return "{backend}"
            case .socket: return "{socket}"
            }
        }

        /// The record's value; a record without a socket gives the empty string.
        func value(in r: WorkerRequest) -> String {
            switch self {
            case .id: return r.id
            case .session: return r.backendSession
            case .backend: return r.backend.rawValue
            case .socket: return r.socket ?? ""
            }
        }
    }

    /// `text` with every placeholder replaced by its value, as it is (for arguments).
    static func expand(_ text: String, _ r: WorkerRequest) -> String {
        substitute(text, r) { (_, value) throws(Never) in value }
    }

    /// `text` with every placeholder replaced by what `fill` makes of its
    /// value; a `{` that starts no placeholder stays as it is.
    static func substitute<E: Error>(
        _ text: String, _ r: WorkerRequest, _ fill: (Placeholder, String) throws(E) -> String
    ) throws(E) -> String {
        guard text.contains("{") else { return text }
        var out = ""
        var rest = Substring(text)
        search: while let open = rest.firstIndex(of: "{") {
            out += rest[..<open]
            let after = rest[open...]
            for p in Placeholder.allCases where after.hasPrefix(p.token) {
                out += try fill(p, p.value(in: r))
                rest = after.dropFirst(p.token.count)
                continue search
            }
            out += "{"
            rest = after.dropFirst()
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
///
/// Before a launch, the log path is checked: a placeholder value that is not
/// one plain file name, or a log file that is a symbolic link, a FIFO, a
/// socket or a multiply linked file, refuses the launch (`.refused`). The
/// log is opened with `O_NOFOLLOW` (and created 0600), so a link planted
/// after the check is not followed either.
public final class CommandWorkerLauncher: WorkerLauncher {
    /// The command line with placeholders.
    public let template: WorkerTemplate
    /// The workers' environment.
    public let environment: Environment
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
    ///   - environment: the workers' whole environment; `nil` takes the
    ///     template's, which is `.inherit` (the daemon's own environment as
    ///     it is at each launch) unless it was set. Build one with
    ///     `WorkerEnvironment` to start from nothing or to add variables.
    ///   - spawner: whose reactor follows the workers; share the daemon's
    ///     (required, so no launcher starts a reactor thread of its own).
    ///   - logger: told when a worker exits.
    public init(template: WorkerTemplate, environment: Environment? = nil, spawner: Spawner, logger: RestoreLogger = .standardError) {
        self.template = template
        self.environment = environment ?? template.environment
        self.spawner = spawner
        self.logger = logger
    }

    /// Pids of the workers this launcher started that have not exited yet, with their session ids.
    public var running: [Int32: String] { table.withLock { $0.live } }

    /// Spawns the worker; returns its pid, why it was refused, or why it could not start.
    public func launch(_ request: WorkerRequest) async -> WorkerLaunchResult {
        var command: WorkerCommand
        do throws(WorkerRefusal) {
            command = try template.command(for: request)
        } catch {
            return .refused(reason: error.description)
        }
        command.environment = environment
        if let log = command.logPath, let refusal = WorkerTemplate.checkLogFile(log) {
            return .refused(reason: refusal.description)
        }
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
            // O_NOFOLLOW answers ELOOP for a link planted after the check.
            if outcome.termination == .spawnFailed(.tooManySymlinks), let log = command.logPath, WorkerTemplate.isSymbolicLink(log) {
                return .refused(reason: WorkerRefusal.logIsSymbolicLink(path: log).description)
            }
            return .notLaunched(reason: outcome.failureReason(program: command.executable, timeout: nil))
        }
    }
}
