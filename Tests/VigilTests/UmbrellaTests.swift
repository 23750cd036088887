#if canImport(Glibc)
import Glibc
#endif
import Testing
import Vigil
import VigilTestSupport

/// `import Vigil` alone reaches every layer: the prober, a backend, the store
/// and restore. This file imports nothing else of the package.
@Suite("One import")
struct UmbrellaTests {
    @Test("a probe, a store error and a restore decision through `import Vigil` only")
    func everyLayer() async throws {
        let spawner = Spawner()
        let outcome = await spawner.run(Command("/bin/sh", arguments: ["-c", "exit 3"]))
        #expect(outcome.termination == .exited(3))

        let dir = try TemporaryDirectory()
        #expect(throws: StoreError.self) { try StoreFile(path: dir.file("absent.json")).load() }

        let decided = Restorer.decide(status: .active, backend: .tmux, cliId: nil,
                                      probe: .missing(reason: "gone"), expectedCLI: nil, lazy: false)
        #expect(decided.action == .close)
        #expect(BackendKind.tmux.description == "tmux")
    }

    @Test("names that other packages also use can be qualified by the module: VigilCore.Command, Vigil.Errno")
    func qualifiedNames() async {
        let command: VigilCore.Command = VigilCore.Command("/bin/sh", arguments: ["-c", "kill -TERM $$"],
                                                           environment: VigilCore.Environment.inherit)
        let outcome = await Spawner().run(command)
        #expect(outcome.termination == .signaled(VigilCore.Signal(rawValue: SIGTERM)))
        #expect(Vigil.Errno(rawValue: 2) == VigilCore.Errno.noSuchFile)
    }
}
