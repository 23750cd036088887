import VigilCore
import VigilBackends
import VigilJSON
import VigilStore
import VigilRestore

enum RestoreCommand {
    static let usage = "vigil restore --store PATH [--worker 'COMMAND ARG...'] [--worker-log PATH] [--worker-env-clear] [--worker-env KEY=VALUE]... [--expect-cli ID] [--lazy] [--dry-run] [--json] [--tmux PATH] [--zellij PATH] [--herdr PATH] [--timeout-ms N] [--concurrency N] [--lock flock|exclusive-create]"
    static let help = """
    Reconcile a session store with the sessions that survived, in one pass.

    Usage: \(usage)

    For each active tmux/zellij/herdr record (one listing call per backend and socket):
      missing          -> close   (status "closed", closedAt, closeReason; one atomic store write)
      unknown          -> keep    (left active for lazy recovery)
      exists, other CLI-> kill    (backing session killed, record kept active without a worker)
      exists           -> fork    (worker launched; with --lazy: keep, no worker)
      closed or pty    -> skip

    Options:
      --store PATH          the session store (JSON, {"version": 1, "sessions": [...]}) (required)
      --worker 'CMD ARGS'   worker to launch per live session; {id} {session} {backend} {socket}
                            are replaced; split into words without a shell (quotes allowed)
      --worker-log PATH     append workers' stdout/stderr here (default /dev/null); placeholders
                            allowed, but a value that is empty, holds '/', a NUL or a control
                            character, or starts with '.' is refused (the record is kept, no
                            worker); a symbolic link, FIFO, socket, folder or hard-linked file
                            at the path is refused too (never followed or opened);
                            a new log is created 0600
      --worker-env-clear    start workers with an empty environment (default: vigil's own)
      --worker-env KEY=VALUE  set a variable in the workers' environment (repeatable; a key
                            given twice takes the later value)
      --expect-cli ID       the CLI the daemon runs now; live sessions of another cliId are killed
      --lazy                keep live sessions registered without launching workers
      --dry-run             decide and report; no store write, no kill, no fork
      --json                print the report as one JSON document
      --tmux PATH, --zellij PATH, --herdr PATH   multiplexer executables (default: on PATH)
      --timeout-ms N        deadline per multiplexer call (default 3000)
      --retries N           extra attempts when an answer is unknown (default 2)
      --concurrency N       kills and worker launches in flight at once (default 16)
      --lock PROTOCOL       the lock the store's writers share: flock (default; flock(2) on
                            STORE.lock, a file that stays) or exclusive-create (botmux's:
                            STORE.lock created with O_EXCL, holding the pid, removed on release)
      --lock-timeout-ms N   wait this long for the store's lock at commit time (default 5000)
      --strict-links        refuse a store file with other hard links (default: commit it and
                            say that the other names keep the previous version)
      --create              create an empty store when none exists
      --quiet               no per-session log lines on stderr (store notices still print)

    The store is read, probed and decided on without its lock; the lock is held
    only to commit, for one read and one write. A record another writer changed
    meanwhile is left as it is and reported skip ("changed by another writer
    during restore"); kills and workers follow for committed decisions only.

    Exit status: 0 done (also when some sessions were unknown: they are kept,
    and the report and the warnings say why); 64 usage; 65 bad store data
    (also an empty or duplicate id); 66 store not found; 73 store cannot be
    written (not a regular file, a lock path that is a symlink or not a
    regular file, other hard links with --strict-links); 74 the report could
    not be written to stdout (the store was already committed; the error
    line says so); 75 store locked by another writer past the timeout;
    130/143 interrupted by SIGINT/SIGTERM (multiplexer calls in flight are
    ended first). Nothing is written when an error is reported before the
    commit: the store is checked before the lock file is made.
    """

    static func run(_ args: [String]) async -> Int32 {
        let parsed: ParsedArguments
        var options = RestoreOptions()
        var backends = StandardBackends()
        var template: WorkerTemplate? = nil
        var workerEnvironment = WorkerEnvironment()
        let storePath: String
        do throws(UsageError) {
            parsed = try parseArguments(args, OptionSpec(
                valued: ["store", "worker", "worker-log", "expect-cli", "tmux", "zellij", "herdr", "timeout-ms", "retries", "concurrency", "lock-timeout-ms", "lock"],
                flags: ["lazy", "dry-run", "json", "create", "quiet", "worker-env-clear", "strict-links"],
                repeated: ["worker-env"]))
            if parsed.has("help") { print(help); return ExitCode.ok }
            guard let s = parsed.value("store"), !s.isEmpty else { throw UsageError(message: "missing required option '--store PATH'") }
            storePath = s
            if let extra = parsed.positionals.first { throw UsageError(message: "unexpected argument '\(extra)'") }
            options.expectedCLI = parsed.value("expect-cli")
            options.lazy = parsed.has("lazy")
            options.dryRun = parsed.has("dry-run")
            options.createIfMissing = parsed.has("create")
            options.strictLinks = parsed.has("strict-links")
            if let name = parsed.value("lock") {
                guard let lockProtocol = StoreLockProtocol(rawValue: name) else {
                    throw UsageError(message: "option '--lock' needs flock or exclusive-create, got '\(name)'")
                }
                options.lockProtocol = lockProtocol
            }
            if let n = try parsed.integer("concurrency", min: 1, max: Limits.concurrency) { options.concurrency = n }
            if let n = try parsed.integer("lock-timeout-ms", min: 0, max: Limits.timeoutMs) { options.lockTimeout = .milliseconds(n) }
            let timeoutMs = try parsed.integer("timeout-ms", min: 1, max: Limits.timeoutMs) ?? 3000
            let retries = try parsed.integer("retries", min: 0, max: Limits.retries) ?? 2
            backends.timeout = .milliseconds(timeoutMs)
            backends.retry = BackendOptions.retryPolicy(timeoutMs: timeoutMs, retries: retries)
            if let p = parsed.value("tmux") { backends.tmux = p }
            if let p = parsed.value("zellij") { backends.zellij = p }
            if let p = parsed.value("herdr") { backends.herdr = p }
            if let line = parsed.value("worker") {
                do throws(WorkerTemplateError) {
                    template = try WorkerTemplate.parse(line, logPath: parsed.value("worker-log"))
                } catch {
                    throw UsageError(message: error.description)
                }
                do throws(WorkerEnvironmentError) {
                    var env = WorkerEnvironment(clear: parsed.has("worker-env-clear"))
                    for entry in parsed.values("worker-env") { try env.set(assignment: entry) }
                    workerEnvironment = env
                } catch {
                    throw UsageError(message: error.description)
                }
            } else {
                for option in ["worker-log", "worker-env"] where parsed.value(option) != nil || !parsed.values(option).isEmpty {
                    throw UsageError(message: "'--\(option)' needs '--worker'")
                }
                if parsed.has("worker-env-clear") { throw UsageError(message: "'--worker-env-clear' needs '--worker'") }
            }
        } catch {
            printError(error.message, usage: usage)
            return ExitCode.usage
        }

        // --quiet drops the per-session lines, never what restore says about
        // the store itself (a symlink followed, a store created).
        let logger: RestoreLogger = parsed.has("quiet")
            ? RestoreLogger(sessionEvents: false) { if $0.sessionID == nil { RestoreLogger.standardError.emit($0) } }
            : .standardError
        let launcher: any WorkerLauncher
        if let template, !options.dryRun {
            launcher = CommandWorkerLauncher(template: template, environment: workerEnvironment.environment,
                                             spawner: backends.spawner, logger: .silent)
        } else {
            launcher = NoWorkerLauncher(reason: options.dryRun ? "dry run" : "no --worker given")
        }
        let restorer = Restorer(options: options, backends: backends, launcher: launcher, logger: logger)
        let report: RestoreReport
        do throws(StoreError) {
            report = try await restorer.restore(storeAt: storePath)
        } catch {
            printError(error.description)
            return error.exitCode
        }
        var out = OutputStream(fd: 1)
        ReportRendering.write(report, json: parsed.has("json"), to: &out)
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

/// The report as JSON and as a table.
enum ReportRendering {
    /// The report as one JSON document, or as the table and its summary line.
    static func write(_ report: RestoreReport, json: Bool, to out: inout OutputStream) {
        if json {
            out.bytes(self.json(report).serialized())
            out.line()
        } else {
            for line in text(report) { out.line(line) }
        }
    }

    static func json(_ report: RestoreReport) -> JSONValue {
        var sessions: [JSONValue] = []
        sessions.reserveCapacity(report.sessions.count)
        for s in report.sessions {
            let obj: JSONObject = [
                "id": .string(s.id), "backend": .string(s.backend), "backendSession": .string(s.backendSession),
                "probe": s.probe.map { .string($0.rawValue) } ?? .null, "action": .string(s.action.rawValue),
                "reason": .string(s.reason), "workerPid": s.workerPID.map { .integer(Int($0)) } ?? .null,
            ]
            sessions.append(.object(obj))
        }
        let totals = report.totals
        var totalsObject = JSONObject()
        for a in RestoreAction.allCases { totalsObject.append(a.rawValue, .integer(totals[a] ?? 0)) }
        let doc: JSONObject = [
            "sessions": .array(sessions), "totals": .object(totalsObject),
            "elapsedMs": .integer(Int(report.elapsed.milliseconds)), "dryRun": .bool(report.dryRun),
            "listingCalls": .integer(report.listingCalls), "listingUsage": usageJSON(report.listingUsage),
        ]
        return .object(doc)
    }

    static func text(_ report: RestoreReport) -> [String] {
        var rows: [[String]] = [["ID", "BACKEND", "SESSION", "PROBE", "ACTION", "WORKER", "REASON"]]
        for s in report.sessions {
            // Ids, names and reasons may come from the store: no control characters reach the terminal.
            rows.append([s.id, s.backend, s.backendSession, s.probe?.rawValue ?? "-", s.action.rawValue,
                         s.workerPID.map(String.init) ?? "-", s.reason].map(\.escapingControlCharacters))
        }
        var lines = table(rows)
        let t = report.totals
        let summary = RestoreAction.allCases.map { "\($0.rawValue) \(t[$0] ?? 0)" }.joined(separator: ", ")
        lines.append("")
        lines.append("\(report.sessions.count) records: \(summary); \(report.elapsed.milliseconds) ms\(report.dryRun ? " (dry run: nothing changed)" : "")")
        return lines
    }
}
