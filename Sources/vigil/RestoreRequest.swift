// `vigil restore --store`'s options, read and checked into one value
// before anything runs (RestoreCommand.swift runs it).
import VigilCore
import VigilBackends
import VigilStore
import VigilRestore
import VigilCommandLine

/// What `vigil restore --store` was asked to do, checked: the store, the
/// restore's options, the multiplexers and the worker.
struct RestoreRequest {
    let storePath: String
    var options: RestoreOptions
    var backends: StandardBackends
    var template: WorkerTemplate?
    var workerEnvironment = WorkerEnvironment()

    /// Reads the options in the order their errors are reported: `--bot`,
    /// the store, stray arguments, restore's options, the multiplexers, the worker.
    init(_ parsed: ParsedArguments) throws(UsageError) {
        if parsed.given("bot") { throw UsageError(message: "'--bot' applies to '--botmux' only") }
        guard let s = parsed.value("store"), !s.isEmpty else { throw UsageError(message: "missing required option '--store PATH' (or '--botmux [DIR]')") }
        storePath = s
        if let extra = parsed.positionals.first { throw UsageError(message: "unexpected argument '\(extra)'") }
        options = try Self.options(parsed)
        backends = StandardBackends(spawner: Spawner())
        try RestoreCommand.applyBackendOptions(parsed, to: &backends)
        if let line = parsed.value("worker") {
            try readWorker(line, parsed)
        } else {
            for option in ["worker-log", "worker-env"] where parsed.value(option) != nil || !parsed.values(option).isEmpty {
                throw UsageError(message: "'--\(option)' needs '--worker'")
            }
            if parsed.has("worker-env-clear") { throw UsageError(message: "'--worker-env-clear' needs '--worker'") }
        }
    }

    /// Restore's own options: CLI check, lazy, dry run, creation, the missing
    /// policy, links, the lock, concurrency.
    static func options(_ parsed: ParsedArguments) throws(UsageError) -> RestoreOptions {
        var options = RestoreOptions()
        options.expectedCLI = parsed.value("expect-cli")
        options.lazy = parsed.has("lazy")
        options.dryRun = parsed.has("dry-run")
        options.createIfMissing = parsed.has("create")
        if let policy = parsed.value("on-missing").flatMap(MissingPolicy.init(rawValue:)) { options.onMissing = policy }
        options.strictLinks = parsed.has("strict-links")
        if let name = parsed.value("lock") {
            guard let lockProtocol = StoreLockProtocol(rawValue: name) else {
                throw UsageError(message: "option '--lock' needs flock or exclusive-create, got '\(name)'")
            }
            options.lockProtocol = lockProtocol
        }
        if let n = try parsed.integer("concurrency", min: 1, max: Limits.concurrency) { options.concurrency = n }
        if let n = try parsed.integer("lock-timeout-ms", min: 0, max: Limits.timeoutMs) { options.lockTimeout = .milliseconds(n) }
        return options
    }

    /// `--worker LINE` with its log path and environment.
    mutating func readWorker(_ line: String, _ parsed: ParsedArguments) throws(UsageError) {
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
    }

    /// The worker launcher: the `--worker` command, or none (a dry run launches nothing).
    func launcher() -> any WorkerLauncher {
        if let template, !options.dryRun {
            return CommandWorkerLauncher(template: template, environment: workerEnvironment.environment,
                                         spawner: backends.spawner, logger: .silent)
        }
        return NoWorkerLauncher(reason: options.dryRun ? "dry run" : "no --worker given")
    }
}
