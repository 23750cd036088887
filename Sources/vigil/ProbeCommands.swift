import VigilCore
import VigilBackends
import VigilJSON
import VigilStore
import VigilRestore

/// Options shared by `probe` and `list`: which backend, how to reach it.
struct BackendOptions {
    static let valued: Set<String> = ["backend", "binary", "socket", "socket-path", "timeout-ms", "retries"]

    var kind: BackendKind
    var backend: any SessionBackend
    var timeout: Duration

    /// `--retries N` extra attempts on `unknown`; the overall bound leaves
    /// room for every attempt's own deadline plus the pauses between them.
    static func retryPolicy(timeoutMs: Int, retries: Int) -> RetryPolicy {
        RetryPolicy(maxAttempts: retries + 1, overallDeadline: .milliseconds(timeoutMs * (retries + 1)) + .seconds(2))
    }

    init(_ p: ParsedArguments) throws(UsageError) {
        guard let name = p.value("backend") else { throw UsageError(message: "missing required option '--backend tmux|zellij|herdr'") }
        guard let kind = BackendKind(rawValue: name) else {
            throw UsageError(message: "unknown backend '\(name)' (expected tmux, zellij or herdr)")
        }
        self.kind = kind
        let timeoutMs = try p.integer("timeout-ms", min: 1, max: Limits.timeoutMs) ?? 3000
        timeout = .milliseconds(timeoutMs)
        let retries = try p.integer("retries", min: 0, max: Limits.retries) ?? 2
        let retry = Self.retryPolicy(timeoutMs: timeoutMs, retries: retries)
        if kind != .tmux && (p.value("socket") != nil || p.value("socket-path") != nil) {
            throw UsageError(message: "'--socket' applies to tmux only")
        }
        if p.value("socket") != nil && p.value("socket-path") != nil {
            throw UsageError(message: "give '--socket' or '--socket-path', not both")
        }
        if let name = p.value("socket"), let problem = TmuxBackend.socketProblem(.name(name)) {
            throw UsageError(message: problem)
        }
        if let path = p.value("socket-path"), let problem = TmuxBackend.socketProblem(.path(path)) {
            throw UsageError(message: problem)
        }
        var provider = StandardBackends(timeout: timeout, retry: retry)
        if let binary = p.value("binary") {
            switch kind {
            case .tmux: provider.tmux = binary
            case .zellij: provider.zellij = binary
            case .herdr: provider.herdr = binary
            }
        }
        if let path = p.value("socket-path") {
            // -S PATH: the one case the provider (which speaks -L names) does not cover.
            backend = TmuxBackend(configuration: TmuxConfiguration(
                executable: provider.tmux, socket: .path(path), timeout: timeout, retry: retry, spawner: provider.spawner))
        } else {
            backend = provider.backend(for: kind, socket: p.value("socket"))
        }
    }
}

enum ProbeCommand {
    static let usage = "vigil probe --backend tmux|zellij|herdr [--binary PATH] [--socket NAME | --socket-path PATH] [--timeout-ms N] [--retries N] [--json] NAME..."
    static let help = """
    Ask a multiplexer whether sessions exist. No shell is involved.

    Usage: \(usage)

    Options:
      --backend KIND      tmux, zellij or herdr (required)
      --binary PATH       the multiplexer executable (default: its name, looked up on PATH)
      --socket NAME       tmux only: server socket name (tmux -L)
      --socket-path PATH  tmux only: server socket path (tmux -S)
      --timeout-ms N      deadline per call in milliseconds (default 3000)
      --retries N         extra attempts when the answer is unknown (default 2)
      --json              one JSON object per line: {"name","backend","state","reason","attempts","elapsedMs","usage"}
                          (usage: CPU time, context switches and peak memory of the calls' children)

    One name is asked on its own (tmux: has-session and the resolved session's
    name); several names are answered from one listing call with exact lookups.

    Output: one line per name, "NAME exists|missing|unknown (reason)".
    Exit status: 0 all exist, 1 some missing and none unknown, 2 any unknown, 64 usage error
    (including a name the backend cannot hold exactly), 74 the answers could not be written,
    130/143 interrupted by SIGINT/SIGTERM (the multiplexer calls in flight are ended first).
    """

    static func run(_ args: [String]) async -> Int32 {
        let parsed: ParsedArguments
        let options: BackendOptions
        do throws(UsageError) {
            parsed = try parseArguments(args, OptionSpec(valued: BackendOptions.valued, flags: ["json"]))
            if parsed.has("help") { print(help); return ExitCode.ok }
            options = try BackendOptions(parsed)
            if parsed.positionals.isEmpty { throw UsageError(message: "missing session NAME") }
            for name in parsed.positionals {
                do throws(SessionNameError) { try options.backend.validate(name) } catch {
                    throw UsageError(message: "\(error)")
                }
            }
        } catch {
            printError(error.message, usage: usage)
            return ExitCode.usage
        }
        let backend = options.backend
        let names = parsed.positionals
        let results: [Retried<SessionProbe>]
        if names.count == 1 {
            results = [await backend.probe(names[0])]
        } else {
            // Several names: one listing and exact lookups, never one client
            // per name (a thousand at once make a single-threaded tmux
            // server fall behind until every probe times out).
            let (listing, answers) = await backend.probeAll(names)
            results = names.map { name in
                Retried(answer: answers[name] ?? .unknown(reason: "not answered"), attempts: listing.attempts, elapsed: listing.elapsed, usage: listing.usage)
            }
        }
        var out = OutputStream(fd: 1)
        for (name, r) in zip(names, results) {
            if parsed.has("json") {
                let obj: JSONObject = [
                    "name": .string(name), "backend": .string(options.kind.rawValue),
                    "state": .string(r.answer.state.rawValue), "reason": .string(r.answer.reason),
                    "attempts": .integer(r.attempts), "elapsedMs": .integer(Int(r.elapsed.milliseconds)),
                    "usage": usageJSON(r.usage),
                ]
                out.line(JSONValue.object(obj).jsonText())
            } else {
                out.line("\(name) \(r.answer.state.rawValue) (\(r.answer.reason))")
            }
        }
        if let failed = out.finish("the answers", afterwards: "a probe changes nothing") { return failed }
        let states = results.map(\.answer.state)
        if states.contains(.unknown) { return ExitCode.unknown }
        if states.contains(.missing) { return ExitCode.someMissing }
        return ExitCode.ok
    }
}

enum ListCommand {
    static let usage = "vigil list --backend tmux|zellij|herdr [--binary PATH] [--socket NAME | --socket-path PATH] [--timeout-ms N] [--retries N] [--json]"
    static let help = """
    Print the live session names of a backend, one per line, sorted.

    Usage: \(usage)

    Options: as for 'vigil probe'; --json prints {"backend","sessions":[...],"reason","attempts","elapsedMs","usage"}.
    Exit status: 0 listed (possibly empty), 2 the answer is unknown (the reason goes to stderr), 64 usage error,
    74 the listing could not be written, 130/143 interrupted by SIGINT/SIGTERM.
    """

    static func run(_ args: [String]) async -> Int32 {
        let parsed: ParsedArguments
        let options: BackendOptions
        do throws(UsageError) {
            parsed = try parseArguments(args, OptionSpec(valued: BackendOptions.valued, flags: ["json"]))
            if parsed.has("help") { print(help); return ExitCode.ok }
            options = try BackendOptions(parsed)
            if let extra = parsed.positionals.first { throw UsageError(message: "unexpected argument '\(extra)'") }
        } catch {
            printError(error.message, usage: usage)
            return ExitCode.usage
        }
        let r = await options.backend.list()
        switch r.answer {
        case .unknown(let reason):
            if parsed.has("json") {
                let obj: JSONObject = [
                    "backend": .string(options.kind.rawValue), "sessions": .null, "state": .string("unknown"),
                    "reason": .string(reason), "attempts": .integer(r.attempts), "elapsedMs": .integer(Int(r.elapsed.milliseconds)),
                    "usage": usageJSON(r.usage),
                ]
                var out = OutputStream(fd: 1)
                out.line(JSONValue.object(obj).jsonText())
                if let failed = out.finish("the listing", afterwards: "a listing changes nothing") { return failed }
            }
            printError("\(options.kind.rawValue) sessions unknown: \(reason)")
            return ExitCode.unknown
        case .live(let names, let reason):
            var out = OutputStream(fd: 1)
            let sorted = names.sorted()
            if parsed.has("json") {
                let obj: JSONObject = [
                    "backend": .string(options.kind.rawValue), "sessions": .array(sorted.map { .string($0) }),
                    "state": .string("listed"), "reason": .string(reason),
                    "attempts": .integer(r.attempts), "elapsedMs": .integer(Int(r.elapsed.milliseconds)),
                    "usage": usageJSON(r.usage),
                ]
                out.line(JSONValue.object(obj).jsonText())
            } else {
                for n in sorted { out.line(n) }
            }
            if let failed = out.finish("the listing", afterwards: "a listing changes nothing") { return failed }
            return ExitCode.ok
        }
    }
}
