#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VigilCore
import VigilBackends
import VigilJSON
import VigilStore
import VigilRestore
import VigilCommandLine

enum RestoreCommand {
    static let spec = CommandSpec(
        name: "restore",
        summary: "Reconcile a session store with the sessions that survived, in one pass.",
        options: [
            .valued("store", "PATH", #"the session store (JSON, {"version": 1, "sessions": [...]}) (required, or --botmux)"#, completion: .file),
            .valued("botmux", "DIR", "restore every store of a botmux data directory in place (see botmux above); without DIR: $SESSION_DATA_DIR, else ~/.botmux/.data-dir, else ~/.botmux/data", completion: .directory, optional: true),
            .valued("bot", "APPID", "with --botmux: only this bot's store (and its records in the legacy sessions.json)"),
            .valued("on-missing", "POLICY", "what a missing session does to its record: close (default; --botmux: keep, the daemon cold-resumes it) or keep", choices: ["close", "keep"]),
            .valued("worker", "'CMD ARGS'", "worker to launch per live session; {id} {session} {backend} {socket} are replaced; split into words without a shell (quotes allowed)"),
            .valued("worker-log", "PATH", "append workers' stdout/stderr here (default /dev/null); a placeholder value that is empty, holds '/', a NUL or a control character, or starts with '.' is refused (the record is kept, no worker); a symlink, FIFO, socket, folder or hard-linked file at the path is refused too; a new log is created 0600", completion: .file),
            .flag("worker-env-clear", "start workers with an empty environment (default: vigil's own)"),
            .valued("worker-env", "KEY=VALUE", "set a variable in the workers' environment (a key given twice takes the later value)", repeatable: true),
            .valued("expect-cli", "ID", "the CLI the daemon runs now; live sessions of another cliId are killed"),
            .flag("lazy", "keep live sessions registered without launching workers"),
            .flag("dry-run", "decide and report; no store write, no kill, no fork, no lock file"),
            .flag("json", "print the whole report as one JSON document (schema 1)"),
            .valued("tmux", "PATH", "the tmux executable (default: tmux on PATH)", completion: .command),
            .valued("zellij", "PATH", "the zellij executable (default: zellij on PATH)", completion: .command),
            .valued("herdr", "PATH", "the herdr executable (default: herdr on PATH)", completion: .command),
            .valued("timeout-ms", "N", "deadline per multiplexer call (default 3000)"),
            .valued("retries", "N", "extra attempts when an answer is unknown (default 2)"),
            .valued("concurrency", "N", "kills and worker launches in flight at once (default 16)"),
            .valued("lock", "PROTOCOL", "the lock the store's writers share: flock (default; flock(2) on STORE.lock, a file that stays) or exclusive-create (botmux's: STORE.lock created with O_EXCL, holding the pid, removed on release)", choices: ["flock", "exclusive-create"]),
            .valued("lock-timeout-ms", "N", "wait this long for the store's lock at commit time (default 5000)"),
            .flag("strict-links", "refuse a store file with other hard links (default: commit it and say that the other names keep the previous version)"),
            .flag("create", "create an empty store when none exists"),
            .flag("verbose", "print every record (the whole table) and one log line per session on stderr"),
            .valued("report", "PATH", "also write the whole report as JSON (schema 1) to PATH (created 0600, or replaced; never through a symlink)", completion: .file),
            .flag("quiet", "no per-session log lines on stderr, even with --verbose (store notices still print)"),
        ],
        exclusive: [["store", "botmux"]],
        discussion: """
        For each active tmux/zellij/herdr record (one listing call per backend and socket):
          missing           -> close  (status "closed", closedAt, closeReason; one atomic store write)
          unknown           -> keep   (left active for lazy recovery)
          exists, other CLI -> kill   (backing session killed, record kept active without a worker)
          exists            -> fork   (worker launched; with --lazy: keep, no worker)
          closed or pty     -> skip

        Output: a summary (totals per action, the first records of each action with
        their reasons, where the full report is); --verbose prints every record;
        --json prints the whole report as one JSON document; --report PATH writes
        it to a file as well. On a terminal, a phase that takes over a second
        (listing, committing, killing, launching) shows a progress line on stderr.

        The store is read, probed and decided on without its lock; the lock is held
        only to commit, for one read and one write. A record another writer changed
        meanwhile is left as it is and reported skip ("changed by another writer
        during restore"); kills and workers follow for committed decisions only.

        botmux (its data directory as botmux keeps it; see README "botmux"):
        every sessions-<larkAppId>.json and the legacy sessions.json, written back as
        botmux's JSON.stringify would. The expected CLI is each bot's cliId in bots.json
        ($BOTS_CONFIG, else ~/.botmux/bots.json; default claude-code): a live session of
        another CLI is killed and its record closed; missing sessions are kept unless
        --on-missing close. tmux is asked on its default server (TMUX_TMPDIR picks the
        socket directory). The lock is botmux's exclusive-create (--lock flock is
        refused). --worker (and the other worker options), --expect-cli, --lazy and
        --create do not apply (exit 64). A bot whose daemon is live (heartbeat at most
        90 s old) is refused with exit 75; --dry-run still reports.
        """,
        epilogue: """
        Exit status: 0 done (also when some sessions were unknown: they are kept,
        and the report and the warnings say why); 64 usage; 65 bad store data
        (also an empty or duplicate id); 66 store not found; 73 store cannot be
        written (not a regular file, a lock path that is a symlink or not a
        regular file, other hard links with --strict-links); 74 the report could
        not be written to stdout (the store was already committed; the error
        line says so); 75 store locked by another writer past the timeout;
        130/143 interrupted by SIGINT/SIGTERM (multiplexer calls in flight are
        ended first). Nothing is written when an error is reported before the
        commit: the store is checked before the lock file is made. --botmux: 75
        also when a bot's daemon is live; a store that cannot be written is left as
        it was, the others are written, and the first failure sets the status.
        """)

    static var usage: String { spec.usage }

    /// How the multiplexers are called, as `restore` and `restore --botmux`
    /// both take it: executables, per-call deadline, retries.
    static func applyBackendOptions(_ parsed: ParsedArguments, to backends: inout StandardBackends) throws(UsageError) {
        let timeoutMs = try parsed.integer("timeout-ms", min: 1, max: Limits.timeoutMs) ?? 3000
        let retries = try parsed.integer("retries", min: 0, max: Limits.retries) ?? 2
        backends.timeout = .milliseconds(timeoutMs)
        backends.retry = BackendOptions.retryPolicy(timeoutMs: timeoutMs, retries: retries)
        if let p = parsed.value("tmux") { backends.tmux = p }
        if let p = parsed.value("zellij") { backends.zellij = p }
        if let p = parsed.value("herdr") { backends.herdr = p }
    }

    static func run(_ args: [String]) async -> Int32 {
        let parsed: ParsedArguments
        var request: RestoreRequest
        do throws(UsageError) {
            parsed = try spec.parse(args)
            if parsed.has("help") { print(spec.help); return ExitCode.ok }
            if parsed.given("botmux") { return await BotmuxCommand.run(parsed) }
            request = try RestoreRequest(parsed)
        } catch {
            printError(error.message, usage: usage)
            return ExitCode.usage
        }
        let progress = ProgressLine.onTerminal(enabled: !parsed.has("json"))
        if let progress { request.options.onPhase = { progress.enter($0) } }
        let restorer = Restorer(options: request.options, backends: request.backends, launcher: request.launcher(),
                                logger: logger(parsed))
        let report: RestoreReport
        do throws(StoreError) {
            report = try await restorer.restore(storeAt: request.storePath)
            progress?.finish()
        } catch {
            progress?.finish()
            printError(error.description)
            return error.exitCode
        }
        return deliver(report, parsed)
    }

    /// Where restore's events go. Per-session lines only with --verbose (a
    /// 100,000-record restore would print 100,000 of them), and never with
    /// --quiet; what restore says about the store itself (a symlink followed,
    /// a store created) always. Without per-session lines the restorer does
    /// not even build them.
    static func logger(_ parsed: ParsedArguments) -> RestoreLogger {
        let perSession = parsed.has("verbose") && !parsed.has("quiet")
        return perSession
            ? .standardError
            : RestoreLogger(sessionEvents: false) { if $0.sessionID == nil { RestoreLogger.standardError.emit($0) } }
    }

    /// Writes the report: to `--report PATH` if asked, then to stdout.
    /// - Returns: the exit status (74 when either cannot be written).
    static func deliver(_ report: RestoreReport, _ parsed: ParsedArguments) -> Int32 {
        if let reportPath = parsed.value("report") {
            if let problem = ReportRendering.writeFile(report, to: reportPath) {
                printError("cannot write the report to \(reportPath): \(problem); \(Self.alreadyDone(report))")
                return ExitCode.ioError
            }
        }
        var out = OutputStream(fd: 1)
        ReportRendering.write(report, json: parsed.has("json"), verbose: parsed.has("verbose"),
                              fullReport: parsed.value("report"), to: &out)
        if let failed = out.finish("the report", afterwards: Self.alreadyDone(report)) { return failed }
        return ExitCode.ok
    }

    /// What had already happened when the report could not be written.
    static func alreadyDone(_ report: RestoreReport) -> String {
        if report.dryRun { return "dry run: the store was not changed" }
        let t = report.totals
        return "the store was already committed (close \(t[.close] ?? 0), kill \(t[.kill] ?? 0), fork \(t[.fork] ?? 0), keep \(t[.keep] ?? 0))"
    }
}
