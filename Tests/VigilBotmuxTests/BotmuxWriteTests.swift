// `vigil restore --botmux` writing: the closes it commits, byte for byte as
// Node's JSON.stringify would write the same edits; the kill of a session of
// another CLI; both --on-missing policies; botmux's exclusive-create lock
// held by a real second process; a record another writer changes while
// restore runs; a daemon that comes up before the commit.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif // canImport(Glibc)
import Testing
import VigilCore
import VigilJSON
@testable import VigilBotmux
@testable import VigilStore
import VigilTestSupport

@Suite("vigil restore --botmux: writing", .serialized, .timeLimit(.minutes(3)))
struct BotmuxWriteTests {
    /// The `closedAt` restore wrote into `record` of the store at `path`.
    func closedAt(_ id: String, in path: String) throws -> String? {
        let store = try BotmuxStore(parsing: try readFile(path), path: path)
        return store.records.first { $0.id == id }?[.closedAt]?.stringValue
    }

    /// What botmux would have written: `JSON.stringify` of `original` with
    /// `ids` closed at `timestamp`, by Node when installed, else by the
    /// writer the StringifyTests hold to Node's bytes.
    func expected(_ original: [UInt8], closing ids: [String], at timestamp: String) async throws -> [UInt8] {
        guard Node.available else { return try closing(ids, in: original, at: timestamp) }
        let dir = try TemporaryDirectory("vigil-botmux-expect")
        try writeFile(dir.file("in.json"), original)
        try writeFile(dir.file("ids.json"), JSONValue.array(ids.map { .string($0) }).serialized())
        _ = try await Node.run("""
        const fs = require('fs');
        const obj = JSON.parse(fs.readFileSync('in.json', 'utf8'));
        for (const id of JSON.parse(fs.readFileSync('ids.json', 'utf8'))) {
          const s = obj[id]; s.status = 'closed'; s.closedAt = process.argv[1];
          for (const k of ['codexAppDispatchLedger', 'codexAppGenerationCommits', 'queuedActivationPending',
                           'queuedActivationTail', 'pendingRepoSetup', 'previewTarget']) delete s[k];
        }
        fs.writeFileSync('out.json', JSON.stringify(obj, null, 2));
        """, [timestamp], in: dir.path)
        return try readFile(dir.file("out.json"))
    }

    /// Nothing but stores (and the heartbeat folder) in the data directory:
    /// no lock file, no temporary file left behind.
    func onlyStores(_ world: BotmuxWorld) -> Bool {
        folderNames(world.data).allSatisfy { $0 == "dashboard-daemons" || BotmuxStoreFile.owner(ofName: $0) != nil }
    }

    @Test("default policy: the session of another CLI is killed and its record closed, a gone one of another CLI closed; missing sessions kept; bytes as JSON.stringify")
    func keepPolicy() async throws {
        let world = try await BotmuxWorld.make()
        let s = try await BotmuxScenario.build(in: world)
        let before = try world.snapshot()
        let o = await world.vigil(["restore", "--botmux", world.data, "--bot", "cli_a", "--json"])
        #expect(o.termination == .exited(0), "\(o.stderr.text)")
        let report = try ParsedReport(o.stdout.text)
        #expect(report.document["dryRun"] == .bool(false))
        #expect(report.line(s.mismatchAlive)?.action == "kill")
        #expect(report.line(s.mismatchAlive)?.reason.contains("killed") == true)
        #expect(report.line(s.mismatchMissing)?.action == "close")

        let store = world.data + "/sessions-cli_a.json"
        let stamp = try #require(try closedAt(s.mismatchAlive, in: store))
        #expect(stamp.utf8.count == 24 && stamp.hasSuffix("Z") && stamp.dropLast(4).hasSuffix("."), "toISOString form: \(stamp)")
        #expect(try closedAt(s.mismatchMissing, in: store) == stamp, "one timestamp per store commit")
        let written = try readFile(store)
        let wanted = try await expected(before["sessions-cli_a.json"]!, closing: [s.mismatchAlive, s.mismatchMissing], at: stamp)
        #expect(written == wanted, "\(firstDifference(written, wanted))")
        for name in ["sessions.json", "sessions-cli_b.json", "sessions-cli_c.json"] {
            #expect(try readFile(world.data + "/" + name) == before[name], "\(name) untouched")
        }
        let live = await world.liveSessions()
        #expect(!live.contains(BotmuxMapping.sessionName(forID: s.mismatchAlive)), "killed")
        for name in s.liveSessions where name != BotmuxMapping.sessionName(forID: s.mismatchAlive) {
            #expect(live.contains(name), "\(name) alive")
        }
        #expect(onlyStores(world))

        // Again: nothing left to do, nothing written.
        let again = await world.vigil(["restore", "--botmux", world.data, "--bot", "cli_a", "--json"])
        #expect(again.termination == .exited(0))
        #expect(try readFile(store) == written)
        #expect(try ParsedReport(again.stdout.text).line(s.mismatchAlive)?.action == "skip")
    }

    @Test("--on-missing close: every missing session of the bot is closed (legacy file too), the suspended one kept; bytes as JSON.stringify")
    func closePolicy() async throws {
        let world = try await BotmuxWorld.make()
        let s = try await BotmuxScenario.build(in: world)
        let before = try world.snapshot()
        let o = await world.vigil(["restore", "--botmux", world.data, "--bot", "cli_a", "--on-missing", "close", "--json", "--quiet"])
        #expect(o.termination == .exited(0), "\(o.stderr.text)")
        let report = try ParsedReport(o.stdout.text)
        #expect(report.document["totals"]?["close"] == .integer(s.missing.count + 2))

        let store = world.data + "/sessions-cli_a.json"
        let stamp = try #require(try closedAt(s.missing[5], in: store))
        let written = try readFile(store)
        let wanted = try await expected(before["sessions-cli_a.json"]!, closing: s.missing + [s.mismatchAlive, s.mismatchMissing], at: stamp)
        #expect(written == wanted, "\(firstDifference(written, wanted))")
        #expect(try closedAt(s.suspended, in: store) == nil)

        let legacy = world.data + "/sessions.json"
        let legacyStamp = try #require(try closedAt(s.legacyOwn, in: legacy))
        let legacyWanted = try await expected(before["sessions.json"]!, closing: [s.legacyOwn], at: legacyStamp)
        #expect(try readFile(legacy) == legacyWanted, "the superseded copy and the record of no bot are left alone")
        #expect(onlyStores(world))
    }

    @Test("the temporary file's name never matches sessions*.json, so botmux never reads it as a store")
    func temporaryName() {
        for store in ["/d/sessions.json", "/d/sessions-cli_a.json"] {
            let name = StoreLocation(target: store).temporaryPrefix + "123-abcdef"
            #expect(BotmuxStoreFile.owner(ofName: name) == nil)
            #expect(!name.hasPrefix("sessions") && !name.hasSuffix(".json"), "\(name)")
        }
    }

    @Test("a lock held by a live second process (botmux's exclusive-create lock): restore waits, then exits 75 with nothing written")
    func liveLock() async throws {
        let world = try await BotmuxWorld.make()
        let s = try await BotmuxScenario.build(in: world, aliveCount: 2, missingCount: 4)
        let lockPath = world.data + "/sessions-cli_a.json.lock"
        // A real process takes the lock as botmux does: O_CREAT|O_EXCL and
        // its identity in the file; it holds it until it is killed.
        let holder = try world.root.write("holder.py", """
        import json, os, sys, time
        fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        stat = open('/proc/self/stat').read()
        start = stat[stat.rindex(')') + 2:].split()[19]
        boot = open('/proc/sys/kernel/random/boot_id').read().strip()
        os.write(fd, json.dumps({'pid': os.getpid(), 'procStart': start, 'bootId': boot}).encode())
        os.close(fd)
        time.sleep(120)
        """)
        let command = WorkerCommand("python3", arguments: [holder, lockPath], logPath: world.root.file("holder.log"))
        guard case .launched(let pid) = Spawner().launch(command) else { throw TestFailure("cannot start python3") }
        defer { kill(pid, SIGKILL) }
        #expect(await eventually(milliseconds: 10_000) { (try? readText(lockPath))?.contains("bootId") == true })
        let before = try world.snapshot()
        let held = try readFile(lockPath)

        let clock = ContinuousClock()
        let started = clock.now
        let o = await world.vigil(["restore", "--botmux", world.data, "--bot", "cli_a", "--lock-timeout-ms", "1500", "--json"])
        let waited = clock.now - started
        #expect(o.termination == .exited(75), "\(o.stderr.text)")
        let last = o.stderr.text.split(separator: "\n").last ?? ""
        #expect(last.hasPrefix("Error: store \(world.data)/sessions-cli_a.json: ") && last.contains("locked"), "\(o.stderr.text)")
        #expect(waited >= .milliseconds(1400), "it waited for the lock: \(waited)")
        #expect(try world.snapshot() == before, "nothing written")
        #expect(try readFile(lockPath) == held, "the holder's lock is left alone")
        let report = try ParsedReport(o.stdout.text)
        #expect(report.line(s.mismatchMissing)?.action == "keep")
        #expect(report.line(s.mismatchMissing)?.reason.contains("not closed, the store was not written") == true)
        #expect(report.document["failures"]?.arrayValue?.count == 1)
    }

    @Test("a lock left by a dead holder (another pid, long gone) is broken as botmux breaks it, and the store is written")
    func deadLock() async throws {
        let world = try await BotmuxWorld.make()
        let s = try await BotmuxScenario.build(in: world, aliveCount: 1, missingCount: 2)
        let lockPath = world.data + "/sessions-cli_a.json.lock"
        // A holder that exited: a real process's pid, reaped, so no process has it now.
        let gone = await Spawner().run(Command("/bin/true", timeout: .seconds(20)))
        #expect(gone.termination == .exited(0))
        let boot = (try? readText("/proc/sys/kernel/random/boot_id"))?.split(separator: "\n").first.map(String.init) ?? ""
        try writeFile(lockPath, #"{"pid":\#(gone.pid ?? 999_999),"procStart":"1","bootId":"\#(boot)"}"#, mode: 0o600)
        var old = [timespec(tv_sec: time(nil) - 60, tv_nsec: 0), timespec(tv_sec: time(nil) - 60, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, lockPath, &old, 0) == 0)

        let o = await world.vigil(["restore", "--botmux", world.data, "--bot", "cli_a", "--json"])
        #expect(o.termination == .exited(0), "\(o.stderr.text)")
        #expect(try closedAt(s.mismatchMissing, in: world.data + "/sessions-cli_a.json") != nil)
        #expect(fileStatus(lockPath) == nil, "the stale lock is gone and ours was released")
    }

    /// A tmux stand-in whose kill-session does what another process would
    /// do while restore runs (before its commit), then reports success. It
    /// answers the calls Vigil's tmux backend makes: `list-sessions -F`, the
    /// exact-name resolution `has-session -t =NAME ; display-message -p ...`
    /// (printing `$<n> NAME`), and `kill-session -t $<n>`.
    func fakeTmux(_ world: BotmuxWorld, live: [String], onKill: String) throws -> String {
        try world.root.fixture("fake-tmux", """
        #!/bin/sh
        case "$1" in
          list-sessions) printf '%s\\n' \(live.map { "'\($0)'" }.joined(separator: " ")); exit 0 ;;
          has-session) name="${3#=}"
            for live in \(live.map { "'\($0)'" }.joined(separator: " ")); do
              if [ "$live" = "$name" ]; then echo "\\$1 $name"; exit 0; fi
            done
            echo "can't find session: $name" >&2; exit 1 ;;
          kill-session) \(onKill); exit 0 ;;
        esac
        exit 1
        """)
    }

    @Test("a record another writer changes while restore runs is left as they made it and reported; the rest is committed into their version")
    func changedMeanwhile() async throws {
        let world = try await BotmuxWorld.make()
        let s = try await BotmuxScenario.build(in: world, aliveCount: 1, missingCount: 2)
        let store = world.data + "/sessions-cli_a.json"
        // Their version: the gone codex session got a new title, and a new session appeared.
        let original = try readFile(store)
        let loaded = try BotmuxStore(parsing: original, path: store)
        let target = try #require(loaded.records.first { $0.id == s.mismatchMissing })
        let edited = loaded.serialized(applying: [target.key: BotmuxEdit(changes: [("title", "renamed by the daemon")])])
        let withNew = String(decoding: edited.dropLast(2), as: UTF8.self)
            + ",\n  \"new-1\": {\n    \"sessionId\": \"new-1\",\n    \"status\": \"active\"\n  }\n}"
        let alternative = try world.root.write("theirs.json", withNew)
        #expect(try BotmuxStore(parsing: Array(withNew.utf8), path: "theirs").records.count == loaded.records.count + 1)
        let tmux = try fakeTmux(world, live: [BotmuxMapping.sessionName(forID: s.mismatchAlive)],
                                onKill: "cp '\(alternative)' '\(store).x' && mv '\(store).x' '\(store)'")
        let o = await world.vigil(["restore", "--botmux", world.data, "--bot", "cli_a", "--tmux", tmux, "--json"])
        #expect(o.termination == .exited(0), "\(o.stderr.text)")
        let report = try ParsedReport(o.stdout.text)
        #expect(report.line(s.mismatchMissing)?.action == "skip")
        #expect(report.line(s.mismatchMissing)?.reason.hasPrefix("changed by another writer during restore") == true)
        let stamp = try #require(try closedAt(s.mismatchAlive, in: store))
        let wanted = try await expected(Array(withNew.utf8), closing: [s.mismatchAlive], at: stamp)
        let written = try readFile(store)
        #expect(written == wanted, "\(firstDifference(written, wanted))")
    }

    @Test("a daemon that comes up while restore runs keeps its store: not written, exit 75, the kill reported")
    func daemonCameUp() async throws {
        let world = try await BotmuxWorld.make()
        let s = try await BotmuxScenario.build(in: world, aliveCount: 1, missingCount: 2)
        let beat = world.data + "/dashboard-daemons/cli_a.json"
        let tmux = try fakeTmux(world, live: [BotmuxMapping.sessionName(forID: s.mismatchAlive)],
                                onKill: "printf '{\"ipcPort\":4100,\"larkAppId\":\"cli_a\",\"pid\":99,\"lastHeartbeat\":%s}' \"$(date +%s%3N)\" > '\(beat)'")
        let before = try world.snapshot()
        let o = await world.vigil(["restore", "--botmux", world.data, "--bot", "cli_a", "--tmux", tmux, "--json"])
        #expect(o.termination == .exited(75), "\(o.stderr.text)")
        #expect(o.stderr.text.contains("bot cli_a's daemon is live"))
        #expect(try world.snapshot() == before)
        let report = try ParsedReport(o.stdout.text)
        #expect(report.line(s.mismatchAlive)?.action == "kill")
        #expect(report.line(s.mismatchAlive)?.reason.contains("record not closed") == true)
    }
}
