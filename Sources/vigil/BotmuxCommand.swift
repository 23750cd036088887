// `vigil restore --botmux [DIR]`: the thin command-line side of VigilBotmux.
// Parsing shares `restore`'s option table (RestoreCommand.swift); this file
// checks what applies to botmux, runs the restorer and renders its report.

import VigilCore
import VigilBackends
import VigilJSON
import VigilStore
import VigilRestore
import VigilBotmux
import VigilCommandLine

enum BotmuxCommand {
    /// Options of `restore` that make no sense for a botmux data directory.
    static let inapplicable: [(String, String)] = [
        ("store", "--botmux reads the data directory's own stores"),
        ("worker", "a botmux worker needs its daemon; the daemon re-attaches live sessions itself"),
        ("worker-log", "there is no worker with --botmux"),
        ("worker-env", "there is no worker with --botmux"),
        ("worker-env-clear", "there is no worker with --botmux"),
        ("expect-cli", "the expected CLI is each bot's cliId in bots.json"),
        ("lazy", "no worker is launched with --botmux"),
        ("create", "--botmux never creates a store"),
    ]

    static func run(_ parsed: ParsedArguments) async -> Int32 {
        let options: BotmuxRestoreOptions
        var backends = StandardBackends(spawner: Spawner())
        do throws(UsageError) {
            options = try Self.options(parsed)
            try RestoreCommand.applyBackendOptions(parsed, to: &backends)
        } catch {
            printError(error.message, usage: RestoreCommand.usage)
            return ExitCode.usage
        }

        // Per-session lines only with --verbose (as for restore --store); what
        // is not about one session (notices) always.
        let perSession = parsed.has("verbose") && !parsed.has("quiet")
        let logger: RestoreLogger = perSession
            ? .standardError
            : RestoreLogger { if $0.sessionID == nil { RestoreLogger.standardError.emit($0) } }
        let restorer = BotmuxRestorer(
            options: options, environment: BotmuxEnvironment.current(Environment.inherit.entries),
            backends: backends, logger: logger)
        let report: BotmuxReport
        do throws(StoreError) {
            report = try await restorer.restore()
        } catch {
            printError(error.description)
            return error.exitCode
        }
        for notice in report.notices {
            logger.emit(RestoreEvent(level: .info, message: notice))
        }
        if let failed = deliver(report, parsed) { return failed }
        // Stores that could not be written: the report says what was done;
        // the first failure decides the exit status (75 locked, 73 ...).
        guard let first = report.failures.first else { return ExitCode.ok }
        let more = report.failures.count > 1 ? " (and \(report.failures.count - 1) more store\(report.failures.count > 2 ? "s" : "") not written)" : ""
        printError(first.description + more)
        return first.exitCode
    }

    /// The botmux restore's options, after refusing those of `restore` that do not apply.
    static func options(_ parsed: ParsedArguments) throws(UsageError) -> BotmuxRestoreOptions {
        var options = BotmuxRestoreOptions()
        for (name, why) in inapplicable where parsed.given(name) {
            throw UsageError(message: "'--\(name)' does not apply to '--botmux': \(why)")
        }
        if let dir = parsed.value("botmux") {
            guard !dir.isEmpty else { throw UsageError(message: "the botmux data directory is an empty string") }
            options.dataDirectory = dir
        }
        if let bot = parsed.value("bot") {
            guard !bot.isEmpty, !bot.contains("/") else { throw UsageError(message: "'--bot' needs a larkAppId, got '\(bot)'") }
            options.bot = bot
        }
        if let policy = parsed.value("on-missing").flatMap(MissingPolicy.init(rawValue:)) { options.onMissing = policy }
        options.dryRun = parsed.has("dry-run")
        options.strictLinks = parsed.has("strict-links")
        if let lock = parsed.value("lock"), lock != StoreLockProtocol.exclusiveCreate.rawValue {
            throw UsageError(message: "'--lock \(lock)' does not apply to '--botmux': botmux locks its stores with exclusive-create")
        }
        if let n = try parsed.integer("concurrency", min: 1, max: Limits.concurrency) { options.concurrency = n }
        if let n = try parsed.integer("lock-timeout-ms", min: 0, max: Limits.timeoutMs) { options.lockTimeout = .milliseconds(n) }
        return options
    }

    /// Writes the report: to `--report PATH` if asked, then to stdout.
    /// - Returns: nil, or the exit status when either cannot be written (74).
    static func deliver(_ report: BotmuxReport, _ parsed: ParsedArguments) -> Int32? {
        if let reportPath = parsed.value("report") {
            if let problem = ReportRendering.writeFile(to: reportPath, { writeJSON(report, to: &$0) }) {
                printError("cannot write the report to \(reportPath): \(problem); \(alreadyDone(report))")
                return ExitCode.ioError
            }
        }
        var out = OutputStream(fd: 1)
        if parsed.has("json") {
            writeJSON(report, to: &out)
        } else {
            writeText(report, verbose: parsed.has("verbose"), fullReport: parsed.value("report"), to: &out)
        }
        return out.finish("the report", afterwards: alreadyDone(report))
    }

    /// What was already done when the report cannot be printed (exit 74).
    static func alreadyDone(_ report: BotmuxReport) -> String {
        if report.dryRun { return "dry run: no store was changed" }
        let t = report.totals
        return "the stores were already committed (close \(t[.close] ?? 0), kill \(t[.kill] ?? 0), keep \(t[.keep] ?? 0))"
    }

    // MARK: - Rendering (written as it is produced, as restore's report is)

    /// The figures of the run, as restore's report gives them. A botmux
    /// report carries no listing usage: its `listingUsage` is always the
    /// empty one, as it was when this report was a `RestoreReport`.
    static func figures(_ report: BotmuxReport) -> ReportFigures {
        ReportFigures(records: report.sessions.count, totals: report.totals, elapsed: report.elapsed,
                      dryRun: report.dryRun, listingCalls: report.listingCalls, listingUsage: .none)
    }

    /// Vigil's restore JSON, with `bot` and `store` on every session and,
    /// at the top, `dataDirectory`, `botsConfig`, per-bot `bots`, `notices`
    /// and `failures` (stores not written); compact, then a newline.
    static func writeJSON(_ report: BotmuxReport, to out: inout OutputStream) {
        out.raw(#"{"schema":1,"sessions":["#)
        for (index, line) in report.sessions.enumerated() {
            if out.failed { break }
            if index > 0 { out.raw(",") }
            out.raw("{")
            ReportRendering.writeSessionMembers(line.outcome, to: &out)
            out.raw(#","bot":"#)
            out.jsonString(line.bot)
            out.raw(#","store":"#)
            out.jsonString(line.store)
            out.raw("}")
            out.flushIfFull()
        }
        out.raw("],")
        ReportRendering.writeFigureMembers(figures(report), to: &out)
        out.raw(#","dataDirectory":"#)
        out.json(.object([
            "path": .string(report.dataDirectory.path), "source": .string(report.dataDirectory.source.rawValue),
        ]))
        out.raw(#","botsConfig":"#)
        out.jsonString(report.botsConfiguration)
        out.raw(#","bots":["#)
        for (index, bot) in report.bots.enumerated() {
            if index > 0 { out.raw(",") }
            var totals = JSONObject()
            for action in RestoreAction.allCases { totals.append(action.rawValue, .integer(bot.totals[action] ?? 0)) }
            out.json(.object([
                "bot": bot.bot.map { .string($0) } ?? .null,
                "expectedCli": bot.expectedCLI.map { .string($0) } ?? .null,
                "stores": .array(bot.stores.map { .string($0) }),
                "liveDaemon": bot.liveDaemon.map { .string($0) } ?? .null,
                "totals": .object(totals),
            ]))
            out.flushIfFull()
        }
        out.raw(#"],"notices":["#)
        for (index, notice) in report.notices.enumerated() {
            if index > 0 { out.raw(",") }
            out.jsonString(notice)
        }
        out.raw(#"],"failures":["#)
        for (index, failure) in report.failures.enumerated() {
            if index > 0 { out.raw(",") }
            out.jsonString(failure.description)
        }
        out.raw("]}\n")
    }

    /// Per bot: its CLI, totals and live daemon; one line each.
    static func botLines(_ report: BotmuxReport) -> [String] {
        report.bots.map { bot in
            let count = bot.totals.values.reduce(0, +)
            var line = "bot \(bot.bot ?? "(none: legacy records without larkAppId)")"
            line += bot.expectedCLI.map { " (cli \($0))" } ?? " (not in bots.json: no CLI check)"
            line += ": \(count) records: " + RestoreAction.allCases.map { "\($0.rawValue) \(bot.totals[$0] ?? 0)" }.joined(separator: ", ")
            if let live = bot.liveDaemon { line += "; daemon live (\(live))" }
            return line.escapingControlCharacters
        }
    }

    /// `verbose`: the table of every record (with its bot), the lines per
    /// bot and the totals. Otherwise restore's summary (totals, the first
    /// records of each action) after the lines per bot.
    static func writeText(_ report: BotmuxReport, verbose: Bool, fullReport: String?, to out: inout OutputStream) {
        let source = "\(report.dataDirectory.path) (\(report.dataDirectory.source.rawValue))".escapingControlCharacters
        guard verbose else {
            out.line("botmux data directory \(source)")
            for line in botLines(report) { out.line(line) }
            out.line()
            for line in ReportRendering.summary(RestoreLines(report.sessions.map(\.outcome)), figures(report), fullReport: fullReport) {
                out.line(line)
            }
            return
        }
        let header = ["BOT", "ID", "BACKEND", "SESSION", "PROBE", "ACTION", "REASON"]
        let sessions = report.sessions
        out.table((-1..<sessions.count).lazy.map { index -> [String] in
            guard index >= 0 else { return header }
            let line = sessions[index]
            let s = line.outcome
            return [line.bot ?? "-", s.id, s.backend, s.backendSession, s.probe?.rawValue ?? "-", s.action.rawValue, s.reason]
                .map(\.terminalSafe)
        })
        out.line()
        for line in botLines(report) { out.line(line) }
        out.line("botmux data directory \(source): " + ReportRendering.totalsLine(figures(report)))
    }
}
