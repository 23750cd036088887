import VigilCore
import VigilBackends
import VigilJSON
import VigilStore
import VigilRestore
import VigilCommandLine

/// Options shared by `probe` and `list`: which backend, how to reach it.
struct BackendOptions {
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
        // `pty` is a BackendKind too, but there is no multiplexer to ask.
        guard let kind = BackendKind(rawValue: name), kind.isPersistent else {
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
        if let name = p.value("socket"), let problem = TmuxBackend.socketProblem(.name(name)) {
            throw UsageError(message: problem)
        }
        if let path = p.value("socket-path"), let problem = TmuxBackend.socketProblem(.path(path)) {
            throw UsageError(message: problem)
        }
        var provider = StandardBackends(timeout: timeout, retry: retry, spawner: Spawner())
        if let binary = p.value("binary") {
            switch kind {
            case .tmux: provider.tmux = binary
            case .zellij: provider.zellij = binary
            case .herdr: provider.herdr = binary
            case .pty: break
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
    static var usage: String { CommandTable.probe.usage }

    static func run(_ args: [String]) async -> Int32 {
        let parsed: ParsedArguments
        let options: BackendOptions
        do throws(UsageError) {
            parsed = try CommandTable.probe.parse(args)
            if parsed.has("help") { print(CommandTable.probe.help); return ExitCode.ok }
            options = try BackendOptions(parsed)
            if parsed.positionals.isEmpty { throw UsageError(message: "missing session NAME") }
        } catch {
            printError(error.message, usage: usage)
            return ExitCode.usage
        }
        let backend = options.backend
        // A name the backend cannot hold exactly is an error line (and exit
        // 64 at the end); the other names are still answered.
        var refused: [String] = []
        var names: [String] = []
        for name in parsed.positionals {
            do throws(SessionNameError) {
                try backend.validate(name)
                names.append(name)
            } catch {
                refused.append("\(error)")
            }
        }
        for problem in refused { printError(problem) }
        guard !names.isEmpty else {
            printError("no session name to ask about", usage: usage)
            return ExitCode.usage
        }
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
                    "schema": .integer(1), "name": .string(name), "backend": .string(options.kind.rawValue),
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
        if !refused.isEmpty { return ExitCode.usage }
        let states = results.map(\.answer.state)
        if states.contains(.unknown) { return ExitCode.unknown }
        if states.contains(.missing) { return ExitCode.someMissing }
        return ExitCode.ok
    }
}

enum ListCommand {
    static var usage: String { CommandTable.list.usage }

    static func run(_ args: [String]) async -> Int32 {
        let parsed: ParsedArguments
        let options: BackendOptions
        do throws(UsageError) {
            parsed = try CommandTable.list.parse(args)
            if parsed.has("help") { print(CommandTable.list.help); return ExitCode.ok }
            options = try BackendOptions(parsed)
        } catch {
            printError(error.message, usage: usage)
            return ExitCode.usage
        }
        let r = await options.backend.list()
        switch r.answer {
        case .unknown(let reason):
            if parsed.has("json") {
                let obj: JSONObject = [
                    "schema": .integer(1), "backend": .string(options.kind.rawValue), "sessions": .null, "state": .string("unknown"),
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
                    "schema": .integer(1), "backend": .string(options.kind.rawValue), "sessions": .array(sorted.map { .string($0) }),
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
