import Testing
import VigilBackends
import VigilCore
import VigilRestore
import VigilStore
import VigilTestSupport

/// Restore decides a record from its neighbour's decision when both have
/// the same answer (by number) and the same decision fields, and it asks
/// the multiplexer while it checks the names. These tests hold both
/// shortcuts to the decision table and to the rule that a group whose
/// names are all refused is never listed. The multiplexer here is a
/// fixture executable standing in for tmux, logging every call.
@Suite("Decisions from neighbours, names checked while listing")
struct DecisionNeighbourTests {
    /// The `cliId` member as written: absent, plain, the same with an
    /// escape, another CLI, and null (no CLI).
    static let cliMembers: [(json: String, value: String?)] = [
        ("", nil), (", \"cliId\": \"claude\"", "claude"), (", \"cliId\": \"clau\\u0064e\"", "claude"),
        (", \"cliId\": \"codex\"", "codex"), (", \"cliId\": null", nil),
    ]
    /// The `killedAt` member as written: absent, a string, a number (not a
    /// marker, but a record that may hold one).
    static let killedMembers: [(json: String, value: String?)] = [
        ("", nil), (", \"killedAt\": \"2026-11-30T10:00:00Z\", \"killReason\": \"cli changed\"", "2026-11-30T10:00:00Z"),
        (", \"killedAt\": 5", nil),
    ]

    @Test("neighbours that differ in one decision field are decided apart, from a store's bytes as from memory")
    func neighboursDifferingInOneField() async throws {
        var random = SplitMix(seed: 20261201)
        let answersPool: [SessionProbe?] = [
            .exists(reason: "listed by tmux list-sessions"), .missing(reason: "not listed by tmux list-sessions"),
            .unknown(reason: "tmux list-sessions timed out"), nil,
        ]
        // 9,000 records: over the threshold of the two halves. Runs of
        // equal records, each run ending in a record that differs from
        // the one before in one field only.
        var json: [String] = []
        var memory: [RestoreRecord] = []
        var probes: [SessionProbe?] = []
        var current = (status: 0, backend: 0, cli: 1, killed: 0, answer: 1)
        for i in 0..<9_000 {
            if random.below(4) == 0 {
                switch random.below(5) {
                case 0: current.status = random.below(2)
                case 1: current.backend = random.below(3)
                case 2: current.cli = random.below(Self.cliMembers.count)
                case 3: current.killed = random.below(Self.killedMembers.count)
                default: current.answer = random.below(answersPool.count)
                }
            }
            let status: RecordStatus = current.status == 0 ? .active : .closed
            let backend: BackendKind = [.tmux, .zellij, .pty][current.backend]
            let cli = Self.cliMembers[current.cli]
            let killed = Self.killedMembers[current.killed]
            let id = "rec-\(i)"
            json.append("{\"id\": \"\(id)\", \"backend\": \"\(backend.rawValue)\", \"status\": \"\(status.rawValue)\"\(cli.json)\(killed.json)}")
            memory.append(RestoreRecord(id: id, backend: backend, status: status, cliId: cli.value, killedAt: killed.value))
            // Only asked records have answers.
            let asked = status == .active && backend.isPersistent
            probes.append(asked ? answersPool[current.answer] : nil)
        }
        let index = try StoreIndex(parsing: Array("{\"version\": 1, \"sessions\": [\n\(json.joined(separator: ",\n"))\n]}\n".utf8))
        let answers = RestoreAnswers(probes: probes, sessionNames: memory.map { "bmx-\($0.id)" })
        for options in [RestoreOptions(expectedCLI: "claude"), RestoreOptions(expectedCLI: "claude", lazy: true), RestoreOptions()] {
            let fromMemory = Restorer.decisions(for: memory, answers: answers, options: options)
            let fromBytes = await Restorer.compactDecisions(for: IndexedRecordViews(index.views), answers: answers, options: options, reportedFrom: index)
            try #require(fromMemory.count == memory.count && fromBytes.count == memory.count)
            for (i, record) in memory.enumerated() {
                let expected = Restorer.decide(status: record.status, backend: record.backend, cliId: record.cliId, probe: probes[i],
                                               expectedCLI: options.expectedCLI, lazy: options.lazy,
                                               killedAt: probes[i]?.state == .missing ? record.killedAt : nil,
                                               onMissing: options.onMissing)
                #expect(fromMemory[i].action == expected.action && fromMemory[i].reason == expected.reason, "memory, record \(i)")
                #expect(fromBytes.action(at: i) == expected.action && fromBytes.reason(at: i) == expected.reason, "bytes, record \(i)")
                #expect(fromBytes[i].probe == probes[i]?.state, "bytes, record \(i)")
            }
        }
    }

    @Test("answers given as values read back as given; equal numbers are equal answers")
    func answersReadBack() {
        let listed = SessionProbe.exists(reason: "listed")
        let probes: [SessionProbe?] = [listed, nil, .missing(reason: "gone"), .exists(reason: "listed"), listed, .unknown(reason: "x"), nil]
        var answers = RestoreAnswers(probes: probes, sessionNames: probes.map { _ in "n" })
        #expect(answers.probes == probes)
        #expect(answers.count == probes.count)
        for i in probes.indices {
            #expect(answers.answer(at: i) == probes[i])
            #expect(answers.state(at: i) == probes[i]?.state)
            for j in probes.indices where answers.numbers[i] == answers.numbers[j] {
                #expect(probes[i] == probes[j])
            }
        }
        answers.probes[1] = .missing(reason: "set later")
        #expect(answers.answer(at: 1) == .missing(reason: "set later"))
        #expect(answers.answer(at: 0) == listed)
    }

    /// A tmux that logs each call and lists `bmx-live0001`.
    func fakeTmux(in dir: TemporaryDirectory) throws -> (path: String, log: String) {
        let log = dir.file("calls.log")
        let path = try dir.fixture("tmux", """
            #!/bin/sh
            echo "$*" >> '\(log)'
            case "$*" in
              *list-sessions*) printf 'bmx-live0001\\n' ;;
            esac
            exit 0
            """)
        return (path, log)
    }

    @Test("a group whose names are all refused is not listed; one accepted name lists it once, for every name")
    func refusedNamesAreNotListed() async throws {
        let dir = try TemporaryDirectory("neighbours")
        let tmux = try fakeTmux(in: dir)
        let restorer = Restorer(backends: StandardBackends(tmux: tmux.path, spawner: Spawner()), logger: .silent)
        // ':' separates session from window in a tmux target: refused.
        let refused = (0..<3).map { RestoreRecord(id: "r\($0)", backend: .tmux, backendSession: "bad:\($0)") }
        let none = await restorer.probe(refused)
        #expect(dir.lines("calls.log").isEmpty, "listed although no name could be asked: \(dir.lines("calls.log"))")
        for answer in none.probes {
            #expect(answer?.state == .unknown && answer?.reason.hasPrefix("session name cannot be probed") == true)
        }

        // Refused names first, then accepted ones: the listing starts at the
        // first accepted name and answers all of them.
        let mixed = refused + [
            RestoreRecord(id: "a", backend: .tmux, backendSession: "bmx-live0001"),
            RestoreRecord(id: "b", backend: .tmux, backendSession: "bad.name:x"),
            RestoreRecord(id: "c", backend: .tmux, backendSession: "bmx-gone0001"),
        ]
        let some = await restorer.probe(mixed)
        #expect(dir.lines("calls.log").filter { $0.contains("list-sessions") }.count == 1, "\(dir.lines("calls.log"))")
        #expect(some.probes.map { $0?.state } == [SessionState.unknown, .unknown, .unknown, .exists, .unknown, .missing])
    }
}
