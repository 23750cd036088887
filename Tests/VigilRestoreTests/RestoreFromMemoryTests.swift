import Testing
import VigilBackends
import VigilCore
import VigilRestore
import VigilStore
import VigilTestSupport

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
}
