#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VigilJSON
import Synchronization
import Testing
import VigilCore
import VigilStore
import VigilTestSupport

/// The `vigil` executable, run as a user runs it: the built binary, its
/// stdout, stderr and exit status. tmux is real (private -L sockets); zellij
/// and herdr are fixture scripts reproducing their documented output.
@Suite("vigil command line", .timeLimit(.minutes(3)))
struct CLITests {
    func json(_ text: String) throws -> JSONObject {
        let v = try JSONValue.parse(text)
        guard case .object(let o) = v else { throw ParseFailure() }
        return o
    }
    struct ParseFailure: Error {}

    // MARK: - help and usage

    @Test("--help on every command prints usage to stdout and exits 0", arguments: [[], ["probe"], ["list"], ["restore"], ["demo"]])
    func help(prefix: [String]) {
        let o = VigilBinary.run(prefix + ["--help"])
        #expect(o.termination == .exited(0))
        #expect(o.stdout.text.contains("Usage: vigil"))
        #expect(o.stderr.text.isEmpty)
    }

    @Test("usage errors exit 64 with one Error line that points at --help", arguments: [
        ["bogus"], [], ["probe", "--backend", "tmux"], ["probe", "--backend", "screen", "x"],
        ["probe", "--backend", "tmux", "--frobnicate", "x"], ["probe", "--backend", "tmux", "--timeout-ms"],
        ["probe", "--backend", "tmux", "--timeout-ms", "soon", "x"], ["restore"], ["restore", "--store"],
        ["probe", "--backend", "zellij", "--socket", "s", "x"], ["restore", "--store", "/x", "--worker", "a 'b"],
        ["probe", "--backend", "tmux", "--timeout-ms", "9223372036854775807", "x"],
        ["probe", "--backend", "tmux", "--retries", "9223372036854775807", "x"],
        ["restore", "--store", "/x", "--concurrency", "0"], ["restore", "--store", "/x", "--lock", "posix"],
        ["restore", "--store", "/x", "--lock"], ["restore", "--store", "/x", "--strict-links=yes"],
        ["probe", "--backend", "tmux", "--socket", "", "x"], ["probe", "--backend", "tmux", "--socket", "a/b", "x"],
    ])
    func usage(args: [String]) {
        let o = VigilBinary.run(args)
        #expect(o.termination == .exited(64))
        let lines = o.stderr.text.split(separator: "\n")
        #expect(lines.count == 1, "one line: \(o.stderr.text)")
        #expect(lines.first?.hasPrefix("Error: ") == true)
        #expect(lines.first?.hasSuffix(" --help'") == true)
        #expect(o.stdout.text.isEmpty)
    }

    @Test("a name tmux cannot hold exactly is a usage error and is never sent", arguments: ["bmx:1", "bmx.1", "", "a\tb"])
    func invalidName(name: String) throws {
        let dir = try TemporaryDirectory()
        let log = dir.file("calls")
        let tmux = try dir.fixture("tmux", "#!/bin/sh\necho \"$*\" >> \(log)\nexit 0\n")
        let o = VigilBinary.run(["probe", "--backend", "tmux", "--binary", tmux, name])
        #expect(o.termination == .exited(64))
        #expect(o.stderr.text.hasPrefix("Error: "))
        #expect(dir.read("calls") == nil)
    }

    // MARK: - probe and list on real tmux

    @Test("probe answers exists, missing and unknown with the documented exit codes")
    func probeExitCodes() throws {
        let server = TmuxServer(label: "cli")
        try server.createSession("bmx-deadbeef")
        let base = ["probe", "--backend", "tmux", "--socket", server.socketName]

        let all = VigilBinary.run(base + ["bmx-deadbeef"])
        #expect(all.termination == .exited(0))
        #expect(all.stdout.text.hasPrefix("bmx-deadbeef exists ("))

        let some = VigilBinary.run(base + ["bmx-deadbeef", "bmx-dead"])
        #expect(some.termination == .exited(1))
        let lines = some.stdout.text.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines[1].hasPrefix("bmx-dead missing ("))

        let unknown = VigilBinary.run(["probe", "--backend", "tmux", "--binary", "/nonexistent/tmux", "--retries", "0", "bmx-deadbeef"])
        #expect(unknown.termination == .exited(2))
        #expect(unknown.stdout.text.contains("unknown ("))
        #expect(unknown.stdout.text.contains("ENOENT"))

        let j = VigilBinary.run(base + ["--json", "bmx-deadbeef", "bmx-dead"])
        #expect(j.termination == .exited(1))
        let objects = try j.stdout.text.split(separator: "\n").map { try json(String($0)) }
        #expect(objects.count == 2)
        #expect(objects[0]["name"] == .string("bmx-deadbeef"))
        #expect(objects[0]["backend"] == .string("tmux"))
        #expect(objects[0]["state"] == .string("exists"))
        #expect(objects[1]["state"] == .string("missing"))
        #expect(objects[0]["attempts"] == .number("1"))
        #expect(objects[0]["reason"]?.stringValue?.isEmpty == false)
        #expect(objects[0]["elapsedMs"] != nil)
        // What the tmux client behind each answer cost.
        for object in objects {
            let usage = object["usage"]?.objectValue
            #expect(usage?["children"] == .number("1"), "\(object)")
            #expect(usage?["unmeasured"] == .number("0"))
            for key in ["userUs", "systemUs", "cpuUs", "voluntarySwitches", "involuntarySwitches", "peakRssBytes"] {
                if case .number = usage?[key] {} else { Issue.record("usage.\(key) should be a number: \(object)") }
            }
            let cpu = Int(usage?["cpuUs"].flatMap { if case .number(let n) = $0 { n } else { nil } } ?? "") ?? -1
            #expect(cpu > 0, "\(object)")
            #expect(["exact", "atMost"].contains(usage?["peakRss"]?.stringValue ?? ""), "\(object)")
        }
    }

    @Test("list prints live names; an unknown answer exits 2 with the reason")
    func list() throws {
        let server = TmuxServer(label: "cli-list")
        try server.createSession("bmx-one")
        try server.createSession("bmx-two")
        let o = VigilBinary.run(["list", "--backend", "tmux", "--socket", server.socketName])
        #expect(o.termination == .exited(0))
        #expect(o.stdout.text == "bmx-one\nbmx-two\n")
        let bad = VigilBinary.run(["list", "--backend", "herdr", "--binary", "/nonexistent/herdr", "--retries", "0"])
        #expect(bad.termination == .exited(2))
        #expect(bad.stderr.text.contains("ENOENT"))
    }

    @Test("under a host that ignores SIGCHLD (children auto-reaped), a lost exit status is unknown, never an answer")
    func hostIgnoresSIGCHLD() {
        // python3 sets SIGCHLD to SIG_IGN and execs vigil, which inherits the
        // disposition: the kernel reaps vigil's children itself, so waitpid
        // answers ECHILD. A fake tmux that exits 1 ("can't find session")
        // would read as missing if the status were guessed.
        let o = Spawner().runSynchronously(Command("/usr/bin/python3", arguments: [
            "-c", "import os, signal, sys; signal.signal(signal.SIGCHLD, signal.SIG_IGN); os.execv(sys.argv[1], sys.argv[1:])",
            VigilBinary.path, "probe", "--backend", "tmux", "--binary", "/bin/false", "--retries", "0", "bmx-x",
        ], timeout: .seconds(30)))
        #expect(o.termination == .exited(2))
        #expect(o.stdout.text.hasPrefix("bmx-x unknown ("))
        #expect(o.stdout.text.contains("ECHILD"))
        // The child ran, but its figures went with its status: counted as unmeasured.
        let j = Spawner().runSynchronously(Command("/usr/bin/python3", arguments: [
            "-c", "import os, signal, sys; signal.signal(signal.SIGCHLD, signal.SIG_IGN); os.execv(sys.argv[1], sys.argv[1:])",
            VigilBinary.path, "probe", "--json", "--backend", "tmux", "--binary", "/bin/false", "--retries", "0", "bmx-x",
        ], timeout: .seconds(30)))
        #expect(j.termination == .exited(2))
        #expect(j.stdout.text.contains("\"usage\":{\"children\":0,\"unmeasured\":1,"), "\(j.stdout.text)")
    }

    // MARK: - restore

    func store(_ dir: TemporaryDirectory, socket: String) throws -> String {
        try dir.write("store.json", """
        {"version": 1, "sessions": [
          {"id": "aaaaaaaa-1", "backend": "tmux", "status": "active", "socket": "\(socket)", "cliId": "claude", "x": {"keep": [1.50, "me"]}},
          {"id": "bbbbbbbb-2", "backend": "tmux", "status": "active", "socket": "\(socket)", "cliId": "claude"},
          {"id": "cccccccc-3", "backend": "tmux", "status": "active", "socket": "\(socket)", "cliId": "codex"},
          {"id": "pty-4", "backend": "pty", "status": "active"}
        ], "owner": "daemon"}
        """)
    }

    @Test("restore --json reports each session and writes the closes")
    func restoreJSON() throws {
        let dir = try TemporaryDirectory()
        let server = TmuxServer(label: "cli-restore")
        try server.createSession("bmx-aaaaaaaa")
        try server.createSession("bmx-cccccccc")
        let path = try store(dir, socket: server.socketName)
        let worker = try dir.fixture("worker", "#!/bin/sh\ntouch \(dir.path)/ran-$1\n")
        let o = VigilBinary.run(["restore", "--store", path, "--json", "--expect-cli", "claude", "--worker", "\(worker) {id}", "--quiet"])
        #expect(o.termination == .exited(0), "\(o.stderr.text)")
        let doc = try json(o.stdout.text)
        let sessions = doc["sessions"]?.arrayValue ?? []
        #expect(sessions.count == 4)
        let actions = sessions.compactMap { $0.objectValue?["action"]?.stringValue }
        #expect(actions == ["fork", "close", "kill", "skip"])
        let first = sessions[0].objectValue!
        for key in ["id", "backend", "backendSession", "probe", "action", "reason", "workerPid"] { #expect(first[key] != nil, "\(key)") }
        #expect(first["backendSession"] == .string("bmx-aaaaaaaa"))
        #expect(first["probe"] == .string("exists"))
        if case .number = first["workerPid"] {} else { Issue.record("workerPid should be a number") }
        #expect(sessions[3].objectValue?["probe"] == .null)
        let totals = doc["totals"]?.objectValue
        #expect(totals?["fork"] == .number("1"))
        #expect(totals?["close"] == .number("1"))
        #expect(totals?["kill"] == .number("1"))
        #expect(totals?["keep"] == .number("0"))
        #expect(totals?["skip"] == .number("1"))
        #expect(doc["elapsedMs"] != nil)
        // One tmux listing answered every record; its cost is in the report.
        #expect(doc["listingCalls"] == .number("1"))
        let usage = doc["listingUsage"]?.objectValue
        #expect(usage?["children"] == .number("1"), "\(doc)")
        if case .number(let cpu) = usage?["cpuUs"] { #expect((Int(cpu) ?? 0) > 0) } else { Issue.record("listingUsage.cpuUs missing") }
        #expect(waitForFile(dir.file("ran-aaaaaaaa-1")))
        let after = try StoreFile(path: path).load()
        #expect(after.records.map(\.status) == [.active, .closed, .active, .active])
        #expect(after.records[0][field: "x"] == .object(["keep": .array([.number("1.50"), .string("me")])]))
        #expect(after.otherFields["owner"] == .string("daemon"))
        #expect(!server.has("bmx-cccccccc"))
    }

    @Test("restore prints a summary by default, the table with --verbose, and --dry-run changes nothing")
    func restoreTableDryRun() throws {
        let dir = try TemporaryDirectory()
        let server = TmuxServer(label: "cli-dry")
        try server.createSession("bmx-cccccccc")
        let path = try store(dir, socket: server.socketName)
        let before = try readText(path)
        let o = VigilBinary.run(["restore", "--store", path, "--dry-run", "--expect-cli", "claude", "--verbose", "--quiet"])
        #expect(o.termination == .exited(0))
        #expect(o.stdout.text.hasPrefix("ID "))
        #expect(o.stdout.text.contains("dry run"))
        // Without --verbose: the summary, which names where the full report is.
        let summary = VigilBinary.run(["restore", "--store", path, "--dry-run", "--expect-cli", "claude"])
        #expect(summary.termination == .exited(0))
        #expect(summary.stdout.text.hasPrefix("4 records: fork 0, close 2, keep 0, kill 1, skip 1;"), "\(summary.stdout.text)")
        #expect(summary.stdout.text.contains("\nkill (1):\n"))
        #expect(summary.stdout.text.contains("Full report: --verbose"))
        #expect(summary.stderr.text.isEmpty, "no per-session lines without --verbose: \(summary.stderr.text)")
        #expect(try readText(path) == before)
        #expect(server.has("bmx-cccccccc"))
    }

    @Test("store errors exit 66, 65 and 75 with one line, and write nothing")
    func storeErrors() throws {
        let dir = try TemporaryDirectory()
        let missing = VigilBinary.run(["restore", "--store", "\(dir.path)/nope.json"])
        #expect(missing.termination == .exited(66))
        #expect(missing.stderr.text.hasPrefix("Error: "))
        #expect(missing.stderr.text.split(separator: "\n").count == 1)
        #expect(access("\(dir.path)/nope.json", F_OK) != 0)
        #expect(access("\(dir.path)/nope.json.lock", F_OK) != 0, "nothing written, not even the lock file")

        let folder = VigilBinary.run(["restore", "--store", dir.path])
        #expect(folder.termination == .exited(73))
        #expect(access("\(dir.path).lock", F_OK) != 0)

        let fifo = dir.file("fifo.json")
        #expect(mkfifo(fifo, 0o600) == 0)
        let pipe = VigilBinary.run(["restore", "--store", fifo], timeout: .seconds(20))
        #expect(pipe.termination == .exited(73), "a FIFO is refused, not waited on")

        let created = VigilBinary.run(["restore", "--store", "\(dir.path)/new.json", "--create", "--dry-run", "--json"])
        #expect(created.termination == .exited(0))
        #expect(created.stdout.text.contains("\"sessions\":[]"))
        #expect(access("\(dir.path)/new.json", F_OK) != 0, "a dry run creates nothing")

        let text = "{\"version\": 1, \"sessions\": [}\n"
        let corrupt = try dir.write("bad.json", text)
        let bad = VigilBinary.run(["restore", "--store", corrupt])
        #expect(bad.termination == .exited(65))
        #expect(bad.stderr.text.contains("bad.json"))
        #expect(bad.stderr.text.contains("line 1"))
        #expect(try readText(corrupt) == text)
        #expect(access(corrupt + ".lock", F_OK) != 0, "a refused store gets no lock file")

        let server = TmuxServer(label: "cli-lock")
        let path = try store(dir, socket: server.socketName)
        let before = try readText(path)
        let held = try StoreFile(path: path).lock(timeout: .zero)
        let locked = VigilBinary.run(["restore", "--store", path, "--lock-timeout-ms", "300"])
        #expect(locked.termination == .exited(75))
        #expect(locked.stderr.text.hasPrefix("Error: "))
        #expect(try readText(path) == before)
        held.release()
    }

    @Test("two restores at once: neither holds the lock while probing; the record is closed once, the other restore reports it changed by another writer")
    func concurrentRestores() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("store.json", """
        {"version": 1, "sessions": [{"id": "aaaaaaaa-1", "backend": "tmux", "status": "active"}]}
        """)
        // A gated tmux: each listing marks that it started, then waits for
        // `go`. Both restores must reach their listing at the same time,
        // which they cannot if the first held the store's lock while probing.
        let gate = dir.file("go")
        let tmux = try dir.fixture("tmux", "#!/bin/sh\ntouch \(dir.path)/started-$$\nwhile [ ! -e \(gate) ]; do sleep 0.01; done\necho 'no server running on /tmp/x' >&2\nexit 1\n")
        let outcomes = Mutex<[Outcome]>([])
        // Launched, not `async let`: each restore starts here and now, not
        // whenever the cooperative pool (as small as two threads, shared with
        // every other test, some of them blocking) next has a thread free.
        for _ in 0..<2 {
            var c = Command(VigilBinary.path, arguments: ["restore", "--store", path, "--tmux", tmux, "--json", "--quiet",
                                                          "--lock-timeout-ms", "60000"], timeout: .seconds(120))
            c.stdoutLimit = 1 << 16
            c.stderrLimit = 1 << 16
            runInBackground(c) { o in outcomes.withLock { $0.append(o) } }
        }
        let bothProbing = waitUntil(milliseconds: 60_000) { folderNames(dir.path).filter { $0.hasPrefix("started-") }.count == 2 }
        #expect(bothProbing, "the second restore never reached its probe while the first was probing")
        try writeFile(gate, "")
        #expect(waitUntil(milliseconds: 120_000) { outcomes.withLock { $0.count == 2 } })
        let done = outcomes.withLock { $0 }
        #expect(done.map(\.termination) == [.exited(0), .exited(0)], "\(done.map(\.stderr.text))")
        var actions: [String] = []
        for outcome in done {
            let doc = try json(outcome.stdout.text)
            let line = doc["sessions"]?.arrayValue?.first?.objectValue
            actions.append(line?["action"]?.stringValue ?? "?")
            if line?["action"] == .string("skip") {
                #expect(line?["reason"] == .string("changed by another writer during restore"))
            }
        }
        #expect(actions.sorted() == ["close", "skip"], "one restore closes the record, the other finds it changed")
        let after = try StoreFile(path: path).load()
        #expect(after.records.map(\.status) == [.closed])
        #expect(after.records[0].closeReason?.contains("gone") == true)
    }

    @Test("a restore killed with SIGKILL at any moment leaves a store that parses")
    func killedMidway() throws {
        let dir = try TemporaryDirectory()
        let server = TmuxServer(label: "cli-kill")
        try server.createSession("bmx-00000000")
        let path = dir.file("big.json")
        var records: [String] = []
        for i in 0..<20_000 {
            let id = String(i, radix: 16).leftPadded(to: 8) + "-rec"
            records.append("{\"id\": \"\(id)\", \"backend\": \"tmux\", \"status\": \"active\", \"socket\": \"\(server.socketName)\", \"payload\": {\"n\": \(i), \"text\": \"some daemon data \(i)\"}}")
        }
        try writeFile(path, "{\"version\": 1, \"sessions\": [\n" + records.joined(separator: ",\n") + "\n]}\n")
        var killedMidway = 0
        for delay in [5, 20, 40, 60, 80, 100, 130, 160, 200, 260, 330, 400] {
            var c = Command(VigilBinary.path, arguments: ["restore", "--store", path, "--quiet"], timeout: .milliseconds(delay))
            c.stdoutLimit = 1 << 20
            let o = Spawner().runSynchronously(c)
            let store = try StoreFile(path: path).load() // throws (fails the test) if torn
            #expect(store.records.count == 20_000)
            let closed = store.records.filter { $0.status == .closed }.count
            #expect(closed == 0 || closed == 19_999, "after \(o.termination): \(closed) closed")
            if o.termination == .timedOut(.kill) { killedMidway += 1 }
            if closed != 0 { break }
        }
        // The test means something only if restores really died part way.
        #expect(killedMidway >= 1)
    }

    // MARK: - demo

    @Test("demo runs the whole job and cleans up after itself")
    func demo() {
        let o = VigilBinary.run(["demo"])
        #expect(o.termination == .exited(0), "\(o.stderr.text)")
        for action in ["fork", "close", "kill", "skip"] { #expect(o.stdout.text.contains(action)) }
        #expect(o.stdout.text.contains("workers that re-attached (marked their session): 3 of 3"))
        let words = o.stderr.text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "," })
        guard let socket = words.first(where: { $0.hasPrefix("vigil-demo-") }).map(String.init) else { Issue.record("no socket named"); return }
        let probe = Spawner().runSynchronously(Command("tmux", arguments: ["-L", socket, "list-sessions"]))
        #expect(probe.termination == .exited(1))
    }
}

extension String {
    func leftPadded(to n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}
