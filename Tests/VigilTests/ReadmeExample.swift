// The README's embedding example, kept here so the build checks that it compiles.
// It is not run: it would need a tmux server named "bots" and a store under /var/lib.
// One import, as the README promises: the umbrella module re-exports the rest.
import Vigil

func readmeSnippet() async throws {
let spawner = Spawner()                                  // one reactor thread, yours to keep
let tmux = TmuxBackend(configuration: TmuxConfiguration(socket: .name("bots"), spawner: spawner))
switch await tmux.probe("bmx-3f2c9a1e").answer {         // retried on unknown only
case .exists: break                                      // re-attach
case .missing(let why): print("gone:", why)              // authoritative
case .unknown(let why): print("keep, ask later:", why)   // never destroy on this
}

let restorer = Restorer(
    options: RestoreOptions(expectedCLI: "claude"),
    backends: StandardBackends(spawner: spawner),
    launcher: CommandWorkerLauncher(template: try .parse("node worker.js --attach {session}"), spawner: spawner),
    registry: SessionRegistry(),
    logger: RestoreLogger { event in print(event) })
do {
    let report = try await restorer.restore(storeAt: "/var/lib/bot/sessions.json")
    print(report.sessions.count, "records")
} catch {                                                // typed: a StoreError, with .category and .exitCode
    print("restore refused:", error)
}

// Restore from memory (README, Embedding): decisions without a store file.
let records = [RestoreRecord(id: "3f2c9a1e-7b7d", backend: .tmux, socket: "bots", cliId: "claude")]
for line in await restorer.decisions(for: records) { print(line.id, line.action, line.reason) }
}

/// The README's worker-environment example (Workers section), compiled, not run.
func readmeWorkerEnvironmentSnippet(spawner: Spawner) throws {
var env = WorkerEnvironment(clear: true)
try env.set(assignment: "PATH=/usr/bin:/bin")
try env.set("BOT_TOKEN_FILE", "/run/bot/token")
let launcher = CommandWorkerLauncher(template: try .parse("node worker.js {id}", logPath: "/var/log/bot/{id}.log"),
                                     environment: env.environment, spawner: spawner)
_ = launcher
}
