// Backends and launchers take their spawner explicitly, so a daemon that
// makes several of them with one spawner has one reactor thread, not one per
// backend. The children are /bin/true: the answers do not matter here, only
// which reactor followed the runs.
//
// Counted per reactor (`threadsStarted`) rather than as the growth of
// /proc/self/task: the test process runs other suites in parallel, each
// starting and ending reactor threads of its own, so a process-wide count
// would measure them too.
import Testing
import VigilBackends
import VigilCore
import VigilRestore

@Suite("one spawner, one reactor thread")
struct SharedReactorTests {
    @Test("five backends and a launcher on one spawner start one reactor thread between them")
    func fiveBackendsAndALauncherShareOneThread() async throws {
        let spawner = Spawner()
        let backends: [any SessionBackend] = [
            TmuxBackend(configuration: TmuxConfiguration(executable: "/bin/true", socket: .name("vigil-shared-a"), retry: .none, spawner: spawner)),
            TmuxBackend(configuration: TmuxConfiguration(executable: "/bin/true", socket: .name("vigil-shared-b"), retry: .none, spawner: spawner)),
            ZellijBackend(configuration: ZellijConfiguration(executable: "/bin/true", retry: .none, spawner: spawner)),
            ZellijBackend(configuration: ZellijConfiguration(executable: "/bin/true", environment: .exactly([]), retry: .none, spawner: spawner)),
            HerdrBackend(configuration: HerdrConfiguration(executable: "/bin/true", retry: .none, spawner: spawner)),
        ]
        let launcher = CommandWorkerLauncher(template: try WorkerTemplate(argv: ["/bin/true", "{id}"]), spawner: spawner, logger: .silent)
        // Making them starts nothing: the thread starts with the first run.
        #expect(spawner.reactor.threadsStarted == 0)

        var probes = 0
        for backend in backends {
            let probe = await backend.probe("bmx-shared1")
            probes += probe.attempts
        }
        let launched = await launcher.launch(WorkerRequest(id: "w", backend: .tmux, backendSession: "bmx-shared1"))
        guard case .launched = launched else { throw TestFailureForSharing("the worker did not launch: \(launched)") }

        #expect(probes >= backends.count, "every backend ran its program at least once")
        #expect(spawner.reactor.threadsStarted == 1)
    }
}

struct TestFailureForSharing: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
