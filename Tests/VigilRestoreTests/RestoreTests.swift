#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import VigilJSON
import Testing
import VigilBackends
import VigilCore
import VigilRestore
import VigilStore
import VigilTestSupport

/// The restore orchestrator end to end: a real tmux server on a private
/// socket, fixture zellij and herdr executables (see RestoreFixtures.swift),
/// a real store file and a real worker fixture.
@Suite("Restore end to end", .timeLimit(.minutes(2)))
struct RestoreTests {
    let naming = SessionNaming()

    struct World {
        let dir: TemporaryDirectory
        let tmux = TmuxServer(label: "restore")
        var storePath: String { dir.file("sessions.json") }
        let zellij: (binary: String, log: String)
        let herdr: (binary: String, log: String)
        let worker: String

        init(zellijLive: [String], zellijExited: [String]) throws {
            dir = try TemporaryDirectory("vigil-restore")
            zellij = try zellijFixture(in: dir, live: zellijLive, exited: zellijExited)
            herdr = try unreachableHerdr(in: dir)
            worker = try markerWorker(in: dir)
        }

        func restorer(_ options: RestoreOptions = RestoreOptions(expectedCLI: "claude"), registry: SessionRegistry = SessionRegistry()) throws -> Restorer {
            let backends = StandardBackends(tmux: "tmux", zellij: zellij.binary, herdr: herdr.binary,
                                            timeout: .seconds(5), retry: RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(5)), spawner: Spawner())
            let launcher = CommandWorkerLauncher(template: try WorkerTemplate(argv: [worker, "{id}", "{session}"]), spawner: Spawner(), logger: .silent)
            return Restorer(options: options, backends: backends, launcher: options.dryRun ? NoWorkerLauncher() : launcher, registry: registry, logger: .silent)
        }
    }

    // Ids: the session name is "bmx-" + the first 8 characters.
    static let aliveA = "aaaaaaaa-1111"
    static let aliveB = "bbbbbbbb-2222"
    static let goneC = "cccccccc-3333"
    static let goneD = "dddddddd-4444"
    static let otherCLI = "eeeeeeee-5555"
    static let herdrX = "ffffffff-6666"
    static let zellijLive = "12345678-z1"
    static let zellijExited = "87654321-z2"
    static let pty = "pty-1"
    static let closed = "99999999-old"

    func makeWorld() throws -> World {
        let w = try World(zellijLive: [naming.name(forID: Self.zellijLive)], zellijExited: [naming.name(forID: Self.zellijExited)])
        for id in [Self.aliveA, Self.aliveB, Self.otherCLI, Self.closed] { try w.tmux.createSession(naming.name(forID: id)) }
        // A near-miss that must not make bmx-cccccccc "exist" by prefix.
        try w.tmux.createSession("bmx-cccccccc-not-the-same")
        try writeFile(w.storePath, storeJSON(Self.records(socket: w.tmux.socketName), extraTopLevel: ", \"daemonVersion\": \"7.1.0\""))
        return w
    }

    /// The world's store records, in `expected` order, with `suffix` after each id.
    static func records(socket s: String, suffix: String = "") -> [String] {
        [
            recordJSON(id: Self.aliveA, backend: "tmux", socket: s),
            recordJSON(id: Self.goneC, backend: "tmux", socket: s),
            recordJSON(id: Self.pty, backend: "pty"),
            recordJSON(id: Self.otherCLI, backend: "tmux", socket: s, cli: "codex"),
            recordJSON(id: Self.herdrX, backend: "herdr"),
            recordJSON(id: Self.zellijLive, backend: "zellij"),
            recordJSON(id: Self.closed, backend: "tmux", status: "closed", socket: s, extra: ", \"closedAt\": \"2026-01-01T00:00:00Z\""),
            recordJSON(id: Self.goneD, backend: "tmux", socket: s),
            recordJSON(id: Self.zellijExited, backend: "zellij"),
            recordJSON(id: Self.aliveB, backend: "tmux", socket: s, cli: nil),
        ].map { $0.replacingOnce("\", \"backend\"", with: "\(suffix)\", \"backend\"") }
    }

    static let expected: [(String, RestoreAction, SessionState?)] = [
        (aliveA, .fork, .exists), (goneC, .close, .missing), (pty, .skip, nil), (otherCLI, .kill, .exists),
        (herdrX, .keep, .unknown), (zellijLive, .fork, .exists), (closed, .skip, nil), (goneD, .close, .missing),
        (zellijExited, .close, .missing), (aliveB, .fork, .exists),
    ]

    @Test("a logger that wants no per-session events gets none, and the restore decides the same")
    func loggerWithoutSessionEvents() async throws {
        for wanted in [true, false] {
            let w = try makeWorld()
            let events = Mutex<[RestoreEvent]>([])
            var restorer = try w.restorer()
            restorer.logger = RestoreLogger(sessionEvents: wanted) { event in events.withLock { $0.append(event) } }
            let report = try await restorer.restore(storeAt: w.storePath)
            #expect(report.sessions.map(\.action) == Self.expected.map(\.1))
            let perSession = events.withLock { $0.filter { $0.sessionID != nil } }
            if wanted {
                // Closes, the kill and the unknown keep are told one by one.
                #expect(Set(perSession.compactMap(\.sessionID)).isSuperset(of: [Self.goneC, Self.goneD, Self.otherCLI, Self.herdrX]))
            } else {
                #expect(perSession.isEmpty, "\(perSession)")
            }
            #expect(RestoreLogger.silent.wantsSessionEvents == false)
        }
    }

    @Test("alive, gone, unreachable and mismatched sessions get fork, close, keep and kill")
    func decisions() async throws {
        let w = try makeWorld()
        let registry = SessionRegistry()
        let report = try await w.restorer(registry: registry).restore(storeAt: w.storePath)

        #expect(report.sessions.map(\.id) == Self.expected.map(\.0))
        for (line, (id, action, probe)) in zip(report.sessions, Self.expected) {
            #expect(line.action == action, "\(id): \(line.reason)")
            #expect(line.probe == probe, "\(id)")
        }
        #expect(report.totals == [.fork: 3, .close: 3, .keep: 1, .kill: 1, .skip: 2])
        // One listing call per backend and socket: tmux on one socket, zellij, herdr.
        #expect(report.listingCalls == 3)
        #expect(callCount(w.zellij.log) == 1)
        // The cost of the answers: one tmux listing, one zellij listing and
        // every attempt at the unreachable herdr (retried on unknown).
        #expect(report.listingUsage.children == 1 + callCount(w.zellij.log) + callCount(w.herdr.log), "\(report.listingUsage)")
        #expect(report.listingUsage.unmeasured == 0)
        #expect(report.listingUsage.cpuTime > .zero)

        // Workers really ran, once per fork, with their session name.
        for id in [Self.aliveA, Self.aliveB, Self.zellijLive] {
            let line = report.sessions.first { $0.id == id }!
            #expect(line.workerPID != nil)
            let marker = w.dir.file("worker-\(id).ran")
            #expect(waitForFile(marker))
            #expect(try readText(marker) == naming.name(forID: id) + "\n")
        }
        #expect(access("\(w.dir.path)/worker-\(Self.otherCLI).ran", F_OK) != 0)

        // The mismatched CLI's session was killed; the live ones were not.
        #expect(!w.tmux.has(naming.name(forID: Self.otherCLI)))
        #expect(w.tmux.has(naming.name(forID: Self.aliveA)))
        #expect(w.tmux.has("bmx-cccccccc-not-the-same"))

        // The store: closes committed, everything else as it was.
        let store = try loadStore(w.storePath)
        #expect(store.records.map(\.id) == Self.expected.map(\.0))
        for r in store.records {
            let closedNow = [Self.goneC, Self.goneD, Self.zellijExited].contains(r.id)
            #expect(r.status == (closedNow || r.id == Self.closed ? .closed : .active), "\(r.id)")
            if closedNow {
                #expect(r.closedAt != nil)
                #expect(r.closeReason?.contains("gone") == true)
            }
            #expect(r[field: "daemon"] == .object(["chat": .number("42"), "ratio": .number("1.0"), "tags": .array([.string("a"), .object(["deep": .null])])]))
        }
        #expect(store.otherFields["daemonVersion"] == .string("7.1.0"))
        let killed = store.records.first { $0.id == Self.otherCLI }!
        #expect(killed.status == .active)
        #expect(killed[field: "killedAt"]?.stringValue != nil)

        // The registry: closed ones evicted, kept/forked/killed registered.
        #expect(Set(registry.all.map(\.id)) == [Self.aliveA, Self.aliveB, Self.zellijLive, Self.otherCLI, Self.herdrX])
        #expect(registry.entry(Self.aliveA)?.workerPID != nil)
        #expect(registry.entry(Self.herdrX)?.workerPID == nil)
    }

    @Test("a dry run decides the same and changes nothing")
    func dryRun() async throws {
        let w = try makeWorld()
        let before = try readText(w.storePath)
        let report = try await w.restorer(RestoreOptions(expectedCLI: "claude", dryRun: true)).restore(storeAt: w.storePath)
        #expect(report.dryRun)
        #expect(report.sessions.map(\.action) == Self.expected.map(\.1))
        #expect(try readText(w.storePath) == before)
        #expect(access(w.storePath + ".lock", F_OK) != 0)
        #expect(w.tmux.has(naming.name(forID: Self.otherCLI)))
        #expect(report.sessions.allSatisfy { $0.workerPID == nil })
        #expect(access("\(w.dir.path)/worker-\(Self.aliveA).ran", F_OK) != 0)
    }

    @Test("a big store (read, probed and decided in halves at once) decides each record as the small one does")
    func bigStoreDecidesAsTheSmallOne() async throws {
        let w = try makeWorld()
        let small = try await w.restorer(RestoreOptions(expectedCLI: "claude", dryRun: true)).restore(storeAt: w.storePath)
        // The small store's records again and again, each copy with its own
        // ids (the same first 8 characters: the same session names), so
        // every copy meets the same sessions. 12,000 records: over the
        // threshold of the halves and of the store reader's second thread.
        // One more record first, so that the two halves meet their decisions
        // in different orders (each numbers its own).
        let first = recordJSON(id: "00000000-first", backend: "tmux", status: "closed", socket: w.tmux.socketName)
        let copies = (0..<1_200).flatMap { Self.records(socket: w.tmux.socketName, suffix: "-copy\($0)") }
        let bigPath = w.dir.file("big.json")
        try writeFile(bigPath, storeJSON([first] + copies))
        let big = try await w.restorer(RestoreOptions(expectedCLI: "claude", dryRun: true)).restore(storeAt: bigPath)
        try #require(big.lines.count == 12_001)
        #expect(big.lines[0].action == .skip && big.lines[0].reason == "record is closed")
        for (index, line) in big.lines.dropFirst().enumerated() {
            let expected = small.lines[index % 10]
            #expect(line.id == "\(expected.id)-copy\(index / 10)")
            #expect(line.backend == expected.backend && line.backendSession == naming.name(forID: line.id), "line \(index)")
            #expect(line.action == expected.action && line.probe == expected.probe && line.reason == expected.reason, "line \(index)")
        }
        #expect(big.totals[.close] == 1_200 * 3)
    }

    @Test("a second restore gives the same store")
    func idempotent() async throws {
        let w = try makeWorld()
        _ = try await w.restorer().restore(storeAt: w.storePath)
        let first = try readText(w.storePath)
        let second = try await w.restorer().restore(storeAt: w.storePath)
        #expect(try readText(w.storePath) == first)
        #expect(second.totals[.close] == 0)
        #expect(second.totals[.kill] == 0)
        // The session killed for a CLI change is missing on purpose now: kept, not closed.
        let killed = second.sessions.first { $0.id == Self.otherCLI }!
        #expect(killed.probe == .missing)
        #expect(killed.action == .keep)
    }

    @Test("lazy mode keeps live sessions registered without workers")
    func lazy() async throws {
        let w = try makeWorld()
        let registry = SessionRegistry()
        let report = try await w.restorer(RestoreOptions(expectedCLI: "claude", lazy: true), registry: registry).restore(storeAt: w.storePath)
        #expect(report.sessions.first { $0.id == Self.aliveA }?.action == .keep)
        #expect(report.sessions.allSatisfy { $0.workerPID == nil })
        #expect(registry.entry(Self.aliveA) != nil)
    }

    @Test("a corrupt store is refused and left byte for byte")
    func corruptStore() async throws {
        let w = try makeWorld()
        let bad = "{\"version\": 1, \"sessions\": [ {\"id\": \"x\", \"backend\": \"tmux\" "
        try writeFile(w.storePath, bad)
        await #expect(throws: StoreError.self) { _ = try await w.restorer().restore(storeAt: w.storePath) }
        #expect(try readText(w.storePath) == bad)
        let r = try w.restorer()
        do throws(StoreError) { _ = try await r.restore(storeAt: w.storePath) } catch { #expect(error.category == .invalidData) }
    }

    @Test("a second restore on a locked store waits, then fails as locked, losing nothing")
    func locked() async throws {
        let w = try makeWorld()
        let before = try readText(w.storePath)
        let held = try StoreFile(path: w.storePath).lock(timeout: .zero)
        var options = RestoreOptions(expectedCLI: "claude")
        options.lockTimeout = .milliseconds(200)
        let clock = ContinuousClock()
        let start = clock.now
        let r = try w.restorer(options)
        do throws(StoreError) {
            _ = try await r.restore(storeAt: w.storePath)
            Issue.record("restore should have failed while the lock is held")
        } catch {
            #expect(error.category == .locked)
            #expect(error.exitCode == 75)
        }
        #expect(clock.now - start >= .milliseconds(200))
        #expect(try readText(w.storePath) == before)
        #expect(w.tmux.has(naming.name(forID: Self.otherCLI)))
        held.release()
        let report = try await w.restorer(options).restore(storeAt: w.storePath)
        #expect(report.totals[.close] == 3)
    }

    @Test("a record another writer changes while restore probes is left as they made it: no close, no kill, no worker")
    func changedWhileProbing() async throws {
        let w = try makeWorld()
        let s = w.tmux.socketName
        // tmux behind a gate: restore is held inside its listing, after it
        // read and decided nothing yet, for as long as the test likes.
        let started = w.dir.file("listing-started")
        let gate = w.dir.file("go")
        let gated = try w.dir.fixture("gated-tmux", "#!/bin/sh\ntouch \(started)\nwhile [ ! -e \(gate) ]; do sleep 0.01; done\nexec tmux \"$@\"\n")
        let backends = StandardBackends(tmux: gated, zellij: w.zellij.binary, herdr: w.herdr.binary,
                                        timeout: .seconds(60), retry: RetryPolicy(maxAttempts: 1), spawner: Spawner())
        let registry = SessionRegistry()
        let restorer = Restorer(options: RestoreOptions(expectedCLI: "claude"), backends: backends,
                                launcher: CommandWorkerLauncher(template: try WorkerTemplate(argv: [w.worker, "{id}", "{session}"]), spawner: Spawner(), logger: .silent),
                                registry: registry, logger: .silent)
        let path = w.storePath
        let run = Task { () -> Result<RestoreReport, StoreError> in
            do throws(StoreError) { return .success(try await restorer.restore(storeAt: path)) } catch { return .failure(error) }
        }
        var waited = 0
        while access(started, F_OK) != 0 && waited < 60_000 {
            try await Task.sleep(for: .milliseconds(10))
            waited += 10
        }
        try #require(access(started, F_OK) == 0, "restore never reached its listing")

        // The daemon saves meanwhile, under the same lock (which restore must
        // not be holding): it touches a record restore will close, one it will
        // kill and one it will fork, and adds one.
        let touched = [
            recordJSON(id: Self.goneC, backend: "tmux", socket: s),
            recordJSON(id: Self.otherCLI, backend: "tmux", socket: s, cli: "codex"),
            recordJSON(id: Self.aliveA, backend: "tmux", socket: s),
        ]
        let added = recordJSON(id: "abcdef12-new", backend: "pty")
        let lock = try StoreFile(path: path).lock(.flock, timeout: .seconds(10))
        var text = try readText(path)
        for record in touched { text = text.replacingOnce(record, with: record.replacingOnce("\"chat\": 42", with: "\"chat\": 43")) }
        text = text.replacingOnce("\n]", with: ",\n  " + added + "\n]")
        try writeFile(path + ".daemon-tmp", text)
        #expect(rename(path + ".daemon-tmp", path) == 0)
        lock.release()
        try writeFile(gate, "")

        let report = try await run.value.get()
        func line(_ id: String) -> SessionOutcome? { report.sessions.first { $0.id == id } }
        for id in [Self.goneC, Self.otherCLI, Self.aliveA] {
            #expect(line(id)?.action == .skip, "\(id)")
            #expect(line(id)?.reason == "changed by another writer during restore", "\(id)")
            #expect(line(id)?.workerPID == nil)
        }
        #expect(report.sessions.first { $0.id == "abcdef12-new" } == nil, "restore read the store before the daemon added it")
        // Restore's other decisions were applied.
        #expect(line(Self.goneD)?.action == .close)
        #expect(line(Self.zellijExited)?.action == .close)
        #expect(line(Self.aliveB)?.action == .fork)
        #expect(w.tmux.has(naming.name(forID: Self.otherCLI)), "a decision that was not committed kills nothing")
        #expect(waitForFile(w.dir.file("worker-\(Self.aliveB).ran")))
        #expect(access(w.dir.file("worker-\(Self.aliveA).ran"), F_OK) != 0, "nor forks")
        #expect(registry.entry(Self.aliveA) == nil)

        let after = try readText(path)
        for record in touched {
            #expect(after.contains(record.replacingOnce("\"chat\": 42", with: "\"chat\": 43")), "the daemon's version, byte for byte")
        }
        #expect(after.contains(added))
        let store = try loadStore(path)
        #expect(store.records.first { $0.id == Self.goneD }?.status == .closed)
        #expect(store.records.first { $0.id == Self.goneC }?.status == .active)
        #expect(store.records.count == Self.expected.count + 1)
    }

    @Test("with the exclusive-create lock, restore leaves no lock file behind", arguments: [false, true])
    func exclusiveCreateLeavesNoLockFile(create: Bool) async throws {
        let w = try makeWorld()
        var options = RestoreOptions(expectedCLI: "claude", lockProtocol: .exclusiveCreate)
        options.createIfMissing = create
        let path = create ? w.dir.file("new.json") : w.storePath
        let report = try await w.restorer(options).restore(storeAt: path)
        #expect(report.totals[.close] == (create ? 0 : 3))
        #expect(report.lockHeld != nil || create)
        #expect(!folderNames(w.dir.path).contains { $0.hasSuffix(".lock") || $0.hasPrefix(".botmux-stale-claim") })
        if create { #expect(permissions(path) == 0o600) }
    }

    @Test("a missing store is an error unless creation is asked for")
    func missingStore() async throws {
        let w = try makeWorld()
        let path = "\(w.dir.path)/absent.json"
        let r = try w.restorer()
        do throws(StoreError) { _ = try await r.restore(storeAt: path); Issue.record("expected notFound") } catch {
            #expect(error.category == .notFound)
        }
        var options = RestoreOptions()
        options.createIfMissing = true
        let report = try await w.restorer(options).restore(storeAt: path)
        #expect(report.sessions.isEmpty)
        #expect(try loadStore(path).records.isEmpty)
    }

    @Test("wake forks only on exists; missing and unknown change nothing")
    func wake() async throws {
        let w = try makeWorld()
        let before = try readText(w.storePath)
        let registry = SessionRegistry()
        let r = try w.restorer(registry: registry)
        let alive = await r.wake(id: Self.aliveA, backend: .tmux, socket: w.tmux.socketName)
        #expect(alive.action == .fork)
        #expect(alive.workerPID != nil)
        #expect(waitForFile("\(w.dir.path)/worker-\(Self.aliveA).ran"))
        let gone = await r.wake(id: Self.goneC, backend: .tmux, socket: w.tmux.socketName)
        #expect(gone.action == .keep)
        #expect(gone.probe == .missing)
        #expect(gone.workerPID == nil)
        let unknown = await r.wake(id: Self.herdrX, backend: .herdr)
        #expect(unknown.probe == .unknown)
        #expect(unknown.action == .keep)
        #expect(try readText(w.storePath) == before)
        #expect(Set(registry.all.map(\.id)) == [Self.aliveA])
    }

    @Test("a record on a tmux socket that cannot be named exactly is kept, never closed")
    func badSocketKept() async throws {
        let w = try makeWorld()
        try writeFile(w.storePath, storeJSON([
            recordJSON(id: Self.goneC, backend: "tmux", socket: ""),
            recordJSON(id: Self.goneD, backend: "tmux", socket: "a/b"),
        ]))
        let report = try await w.restorer().restore(storeAt: w.storePath)
        #expect(report.sessions.map(\.action) == [.keep, .keep])
        #expect(report.sessions.map(\.probe) == [.unknown, .unknown])
        #expect(report.sessions[0].reason.contains("empty tmux socket name"))
        #expect(try loadStore(w.storePath).records.allSatisfy { $0.status == .active })
    }

    @Test("the decision table, row by row")
    func decisionTable() {
        let rows: [(RecordStatus, BackendKind, String?, SessionProbe?, String?, Bool, RestoreAction)] = [
            (.closed, .tmux, nil, nil, nil, false, .skip),
            (.active, .pty, nil, nil, nil, false, .skip),
            (.active, .tmux, nil, .missing(reason: "x"), nil, false, .close),
            (.active, .zellij, nil, .unknown(reason: "x"), nil, false, .keep),
            (.active, .herdr, "codex", .exists(reason: "x"), "claude", false, .kill),
            (.active, .tmux, nil, .exists(reason: "x"), "claude", false, .fork),
            (.active, .tmux, "claude", .exists(reason: "x"), "claude", false, .fork),
            (.active, .tmux, "claude", .exists(reason: "x"), "claude", true, .keep),
            (.active, .tmux, "codex", .exists(reason: "x"), nil, false, .fork),
            (.active, .tmux, "codex", .unknown(reason: "x"), "claude", false, .keep),
            (.active, .tmux, "codex", .missing(reason: "x"), "claude", false, .close),
        ]
        for (status, backend, cli, probe, expected, lazy, action) in rows {
            let d = Restorer.decide(status: status, backend: backend, cliId: cli, probe: probe, expectedCLI: expected, lazy: lazy)
            #expect(d.action == action, "\(status) \(backend) \(cli ?? "-") \(probe?.description ?? "-") expect \(expected ?? "-") lazy \(lazy)")
        }
        // A session that restore killed for a CLI change is missing on purpose.
        #expect(Restorer.decide(status: .active, backend: .tmux, cliId: "codex", probe: .missing(reason: "x"),
                                expectedCLI: "claude", lazy: false, killedAt: "2026-11-25T10:00:00Z").action == .keep)

    }

    @Test("launched workers are tracked until they exit, even ones that exit at once")
    func workerTracking() async throws {
        let launcher = CommandWorkerLauncher(template: try WorkerTemplate(argv: ["/bin/true", "{id}"]), spawner: Spawner(), logger: .silent)
        let results = await withTaskGroup(of: WorkerLaunchResult.self) { group in
            for i in 0..<20 {
                group.addTask { await launcher.launch(WorkerRequest(id: "w\(i)", backend: .tmux, backendSession: "bmx-w\(i)")) }
            }
            var all: [WorkerLaunchResult] = []
            for await r in group { all.append(r) }
            return all
        }
        #expect(results.allSatisfy { if case .launched = $0 { true } else { false } })
        var waited = 0
        while !launcher.running.isEmpty && waited < 5000 {
            try await Task.sleep(for: .milliseconds(10))
            waited += 10
        }
        #expect(launcher.running.isEmpty, "still listed: \(launcher.running)")

        let sleeper = CommandWorkerLauncher(template: try WorkerTemplate(argv: ["/bin/sleep", "30"]), spawner: Spawner(), logger: .silent)
        guard case .launched(let pid) = await sleeper.launch(WorkerRequest(id: "s", backend: .tmux, backendSession: "bmx-s")) else {
            Issue.record("sleep did not launch")
            return
        }
        #expect(sleeper.running == [pid: "s"])
        kill(pid, SIGKILL)
    }

    @Test("worker command lines split without a shell and fill placeholders")
    func workerTemplate() throws {
        let t = try WorkerTemplate.parse(#"node "my worker.js" --id {id} --s={session} 'a b' x\ y"#)
        #expect(t.argv == ["node", "my worker.js", "--id", "{id}", "--s={session}", "a b", "x y"])
        let c = try t.command(for: WorkerRequest(id: "42", backend: .tmux, backendSession: "bmx-42"))
        #expect(c.executable == "node")
        #expect(c.arguments == ["my worker.js", "--id", "42", "--s=bmx-42", "a b", "x y"])
        #expect(c.newSession)
        #expect(throws: WorkerTemplateError.unbalancedQuote) { try WorkerTemplate.parse("a 'b") }
        #expect(throws: WorkerTemplateError.empty) { try WorkerTemplate.parse("   ") }
    }
}

extension String {
    /// `self` with the first occurrence of `part` replaced (unchanged when absent).
    func replacingOnce(_ part: String, with replacement: String) -> String {
        guard let range = firstRange(of: part) else { return self }
        var copy = self
        copy.replaceSubrange(range, with: replacement)
        return copy
    }
}
