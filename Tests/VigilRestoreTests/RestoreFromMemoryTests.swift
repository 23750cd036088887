#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing
import VigilBackends
import VigilCore
import VigilRestore
import VigilStore
import VigilTestSupport
import Synchronization

/// Restore for a daemon that keeps its records itself: decisions from records
/// and answers, no store file, nothing changed. Real tmux on a private socket.
@Suite("Restore from memory", .serialized)
struct RestoreFromMemoryTests {
    @Test("records held in memory: probed through one listing, decided, and nothing is written or killed")
    func decisionsFromMemory() async throws {
        let server = TmuxServer(label: "memory")
        defer { server.tearDown() }
        try server.createSession("bmx-alive001")
        try server.createSession("bmx-codex001")
        let s = server.socketName
        let records = [
            RestoreRecord(id: "alive001-x", backend: .tmux, socket: s, cliId: "claude"),
            RestoreRecord(id: "gone0001-x", backend: .tmux, socket: s),
            RestoreRecord(id: "codex001-x", backend: .tmux, socket: s, cliId: "codex"),
            RestoreRecord(id: "killed01-x", backend: .tmux, socket: s, killedAt: "2026-11-30T10:00:00Z"),
            RestoreRecord(id: "closed01-x", backend: .tmux, status: .closed, socket: s),
            RestoreRecord(id: "pty00001-x", backend: .pty),
        ]
        let restorer = Restorer(options: RestoreOptions(expectedCLI: "claude"), backends: StandardBackends(spawner: Spawner()), logger: .silent)
        let lines = await restorer.decisions(for: records)
        #expect(lines.map(\.id) == records.map(\.id))
        #expect(lines.map(\.action) == [.fork, .close, .kill, .keep, .skip, .skip])
        #expect(lines.map(\.probe) == [.exists, .missing, .exists, .missing, nil, nil])
        #expect(lines[0].backendSession == "bmx-alive001")
        // Deciding is not doing: the session of another CLI is still there.
        #expect(server.has("bmx-codex001"))
        #expect(server.has("bmx-alive001"))
    }

    @Test("the pure step: the same records and answers give the decision table's rows")
    func pureDecisions() {
        let records = [
            RestoreRecord(id: "a", backend: .tmux), RestoreRecord(id: "b", backend: .zellij),
            RestoreRecord(id: "c", backend: .herdr, cliId: "codex"), RestoreRecord(id: "d", backend: .tmux),
            RestoreRecord(id: "e", backend: .tmux, status: .closed),
        ]
        let answers = RestoreAnswers(
            probes: [.exists(reason: "listed"), .missing(reason: "not listed"), .exists(reason: "listed"), .unknown(reason: "timed out"), nil],
            sessionNames: ["bmx-a", "bmx-b", "bmx-c", "bmx-d", "bmx-e"])
        let lines = Restorer.decisions(for: records, answers: answers, options: RestoreOptions(expectedCLI: "claude"))
        #expect(lines.map(\.action) == [.fork, .close, .kill, .keep, .skip])
        for (line, (record, answer)) in zip(lines, zip(records, answers.probes)) {
            let expected = Restorer.decide(status: record.status, backend: record.backend, cliId: record.cliId, probe: answer,
                                           expectedCLI: "claude", lazy: false)
            #expect(line.action == expected.action)
            #expect(line.reason == expected.reason)
        }
        let lazy = Restorer.decisions(for: records, answers: answers, options: RestoreOptions(expectedCLI: "claude", lazy: true))
        #expect(lazy[0].action == .keep)
    }

    @Test("the file-based restore decides exactly as the in-memory one for the same records")
    func fileAndMemoryAgree() async throws {
        let server = TmuxServer(label: "agree")
        defer { server.tearDown() }
        try server.createSession("bmx-aaaa0001")
        let s = server.socketName
        let dir = try TemporaryDirectory()
        let path = try dir.write("store.json", """
        {"version": 1, "sessions": [
          {"id": "aaaa0001-1", "backend": "tmux", "status": "active", "socket": "\(s)", "secret": "x"},
          {"id": "bbbb0001-1", "backend": "tmux", "status": "active", "socket": "\(s)"},
          {"id": "cccc0001-1", "backend": "pty", "status": "active"}
        ]}
        """)
        let restorer = Restorer(options: RestoreOptions(dryRun: true), backends: StandardBackends(spawner: Spawner()), logger: .silent)
        let fromFile = try await restorer.restore(storeAt: path).sessions
        let fromMemory = await restorer.decisions(for: try StoreFile(path: path).load().records)
        #expect(fromFile == fromMemory)
        #expect(fromMemory.map(\.action) == [.fork, .close, .skip])
    }

    @Test("a record's socket picks a tmux server and means nothing to zellij: one listing for every zellij record, one per tmux socket; wake asks the same")
    func socketCountsForTmuxOnly() async throws {
        let server = TmuxServer(label: "sockets")
        defer { server.tearDown() }
        try server.createSession("bmx-tmux0001")
        let s = server.socketName
        // A second -L name no server listens on (the listing answers for it all the same).
        let absent = s + "-none"
        let dir = try TemporaryDirectory()
        let zellij = try zellijFixture(in: dir, live: ["bmx-zell0001"])
        let provider = RecordingProvider(StandardBackends(zellij: zellij.binary, spawner: Spawner()))
        let records = [
            RestoreRecord(id: "tmux0001-x", backend: .tmux, socket: s),
            RestoreRecord(id: "tmux0002-x", backend: .tmux, socket: absent),
            RestoreRecord(id: "zell0001-x", backend: .zellij, socket: s),
            RestoreRecord(id: "zell0002-x", backend: .zellij),
            RestoreRecord(id: "zell0003-x", backend: .zellij, socket: "another"),
            RestoreRecord(id: "pty00001-x", backend: .pty, socket: s),
        ]
        let restorer = Restorer(backends: provider, logger: .silent)
        let answers = await restorer.probe(records)
        #expect(answers.listingCalls == 3)
        #expect(provider.asked == ["tmux \(s)", "tmux \(absent)", "zellij -"])
        #expect(answers.probes.map { $0?.state } == [.exists, .missing, .exists, .missing, .missing, nil])
        #expect(try readText(zellij.log).split(separator: "\n").count == 1, "one zellij listing")

        provider.reset()
        let woken = await restorer.wake(id: "zell0001-x", backend: .zellij, socket: "ignored")
        #expect(woken.action == .fork)
        #expect(woken.backend == "zellij")
        #expect(provider.asked == ["zellij -"])
    }

    @Test("the standard provider answers for pty with a backend that asks nothing")
    func standardProviderPty() async {
        let pty = StandardBackends(spawner: Spawner()).backend(for: .pty, socket: "x")
        #expect(pty.kind == .pty)
        #expect(await pty.probe("bmx-1").attempts == 0)
    }
}

/// Hands out the standard backends and notes which backend and socket restore asked for.
final class RecordingProvider: BackendProvider {
    let inner: StandardBackends
    private let calls = Mutex<[String]>([])

    init(_ inner: StandardBackends) { self.inner = inner }

    /// `kind socket` per distinct request, sorted; `-` for no socket.
    var asked: [String] { calls.withLock { Array(Set($0)).sorted() } }

    func reset() { calls.withLock { $0 = [] } }

    func backend(for kind: BackendKind, socket: String?) -> any SessionBackend {
        calls.withLock { $0.append("\(kind) \(socket ?? "-")") }
        return inner.backend(for: kind, socket: socket)
    }
}

/// tmux names a server's socket file by the `-L` name's bytes: a precomposed
/// and a decomposed "é" are two servers, and restore must not take them for
/// one (String equality would: it compares canonically).
@Suite("Sockets by their bytes", .serialized)
struct SocketBytesTests {
    @Test("a record on the decomposed name is not answered from the precomposed server's listing")
    func canonicallyEquivalentSocketsAreTwoServers() async throws {
        let precomposed = "vigil-test-caf\u{e9}-\(getpid())"
        let decomposed = "vigil-test-cafe\u{301}-\(getpid())"
        #expect(precomposed == decomposed, "Swift takes them for one String")
        #expect(!precomposed.utf8.elementsEqual(decomposed.utf8), "tmux takes them for two files")
        let server = TmuxServer(socket: .name(precomposed))
        defer { server.tearDown() }
        try server.createSession("bmx-aaaaaaaa")
        let records = [
            RestoreRecord(id: "aaaaaaaa-1", backend: .tmux, socket: precomposed),
            RestoreRecord(id: "aaaaaaaa-2", backend: .tmux, socket: decomposed),
        ]
        #expect(!records[0].hasSameServer(as: records[1]))
        let restorer = Restorer(options: RestoreOptions(), backends: StandardBackends(spawner: Spawner()), logger: .silent)
        let answers = await restorer.probe(records)
        #expect(answers.listingCalls == 2)
        #expect(answers.probes[0]?.state == .exists)
        #expect(answers.probes[1]?.state != .exists, "\(String(describing: answers.probes[1]))")
    }
}
