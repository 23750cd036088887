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

/// Data from the store never steers a path: placeholder values in the log
/// path, planted links and FIFOs at the log path, and the workers'
/// environment. Real files, real workers (fixture scripts), real tmux.
@Suite("Worker hardening", .timeLimit(.minutes(2)))
struct WorkerHardeningTests {
    // MARK: - Placeholder values in a path

    @Test("a value that is not one plain file name is refused in a path", arguments: [
        ("", "is empty"), (".", "starts with '.'"), ("..", "starts with '.'"), (".hidden", "starts with '.'"),
        ("../../../etc/cron.d/x", "contains '/'"), ("a/b", "contains '/'"), ("/abs", "contains '/'"),
        ("a\nb", "contains a control character"), ("a\u{1B}[2Jb", "contains a control character"),
        ("a\u{7F}", "contains a control character"), ("a\u{85}b", "contains a control character"),
    ])
    func refusedValues(value: String, problem: String) {
        #expect(WorkerTemplate.pathValueProblem(value) == problem)
    }

    @Test("a NUL byte in a value is refused in a path")
    func nulValue() {
        #expect(WorkerTemplate.pathValueProblem("a\u{0}b") == "contains a NUL byte")
    }

    @Test("plain names pass unchanged", arguments: ["abc", "bmx-3f2c9a1e", "a.b", "a..b", "x.", "UPPER_1", "héllo", "3f2c9a1e-7b7d-4c1e"])
    func acceptedValues(value: String) throws {
        #expect(WorkerTemplate.pathValueProblem(value) == nil)
        let t = try WorkerTemplate(argv: ["w"], logPath: "/var/log/bot/{id}.log")
        #expect(try t.logPath(for: WorkerRequest(id: value, backend: .tmux, backendSession: "s")) == "/var/log/bot/\(value).log")
    }

    @Test("each path placeholder is checked, arguments are not")
    func everyPlaceholder() throws {
        let bad = WorkerRequest(id: "../i", backend: .tmux, backendSession: "../s", socket: "../k")
        for p in ["{id}", "{session}", "{socket}"] {
            let t = try WorkerTemplate(argv: ["w", "{id}", "{session}", "{backend}", "{socket}"], logPath: "/logs/\(p).log")
            #expect(throws: WorkerRefusal.unsafePathValue(placeholder: p, problem: "contains '/'")) { try t.command(for: bad) }
        }
        // {backend} is a BackendKind's word, never a path: always one plain file name.
        for kind in BackendKind.allCases {
            let t = try WorkerTemplate(argv: ["w"], logPath: "/logs/{backend}.log")
            #expect(try t.logPath(for: WorkerRequest(id: "../i", backend: kind, backendSession: "../s")) == "/logs/\(kind.rawValue).log")
        }
        // A placeholder the log path does not use is not checked; arguments keep the values as they are.
        let t = try WorkerTemplate(argv: ["w", "--id={id}", "{socket}"], logPath: "/logs/{session}.log")
        let c = try t.command(for: WorkerRequest(id: "../../x", backend: .tmux, backendSession: "bmx-1"))
        #expect(c.arguments == ["--id=../../x", ""])
        #expect(c.logPath == "/logs/bmx-1.log")
        // No socket in the record: {socket} is empty, refused in a path.
        let s = try WorkerTemplate(argv: ["w"], logPath: "/logs/{session}/{socket}/out.log")
        #expect(throws: WorkerRefusal.unsafePathValue(placeholder: "{socket}", problem: "is empty")) {
            try s.command(for: WorkerRequest(id: "i", backend: .tmux, backendSession: "bmx-1"))
        }
    }

    /// A worker that records its arguments in `dir/ran-<first argument>`.
    func marker(_ dir: TemporaryDirectory) throws -> String {
        try dir.fixture("worker", "#!/bin/sh\necho \"$*\" > '\(dir.path)/ran-'\"$(echo \"$1\" | tr / _)\"\necho worker-output\n")
    }

    @Test("a traversal id is refused for the log path: nothing written outside the log folder, nothing launched")
    func traversalId() async throws {
        let dir = try TemporaryDirectory()
        let logs = try dir.makeDirectory("logs", mode: 0o755)
        let worker = try marker(dir)
        let launcher = CommandWorkerLauncher(template: try WorkerTemplate(argv: [worker, "{id}"], logPath: "\(logs)/{id}.log"), spawner: Spawner(), logger: .silent)
        let result = await launcher.launch(WorkerRequest(id: "../escaped", backend: .tmux, backendSession: "bmx-x"))
        guard case .refused(let reason) = result else { Issue.record("expected refused, got \(result)"); return }
        #expect(reason.contains("{id}"))
        #expect(reason.contains("'/'"))
        #expect(access(dir.file("escaped.log"), F_OK) != 0, "nothing written beside the log folder")
        #expect(folderNames(logs).isEmpty)
        #expect(launcher.running.isEmpty)

        // The same id is fine as an argument: it is not a path there.
        let plain = CommandWorkerLauncher(template: try WorkerTemplate(argv: [worker, "{id}"], logPath: "\(logs)/{session}.log"), spawner: Spawner(), logger: .silent)
        guard case .launched = await plain.launch(WorkerRequest(id: "../escaped", backend: .tmux, backendSession: "bmx-x")) else {
            Issue.record("a traversal id in an argument should launch"); return
        }
        #expect(await eventually { access(dir.file("ran-.._escaped"), F_OK) == 0 })
        #expect(dir.read("ran-.._escaped") == "../escaped\n")
        #expect(await eventually { (try? readText("\(logs)/bmx-x.log")) == "worker-output\n" })
        #expect(access(dir.file("ran-") , F_OK) != 0)
    }

    @Test("a symbolic link planted at the log path is not followed: its target is untouched, nothing launched")
    func plantedSymlink() async throws {
        let dir = try TemporaryDirectory()
        let logs = try dir.makeDirectory("logs", mode: 0o755)
        let worker = try marker(dir)
        let target = try dir.write("target", "original\n")
        #expect(symlink(target, "\(logs)/bmx-a.log") == 0)
        // A dangling link too: following it with O_CREAT would create its target.
        let dangling = dir.file("would-be-created")
        #expect(symlink(dangling, "\(logs)/bmx-b.log") == 0)
        let launcher = CommandWorkerLauncher(template: try WorkerTemplate(argv: [worker, "{id}"], logPath: "\(logs)/{session}.log"), spawner: Spawner(), logger: .silent)
        for (id, session) in [("a", "bmx-a"), ("b", "bmx-b")] {
            let result = await launcher.launch(WorkerRequest(id: id, backend: .tmux, backendSession: session))
            guard case .refused(let reason) = result else { Issue.record("expected refused, got \(result)"); continue }
            #expect(reason == "log file \(logs)/\(session).log is a symbolic link; it is not followed")
            #expect(access(dir.file("ran-\(id)"), F_OK) != 0, "the worker did not run")
        }
        #expect(try readText(target) == "original\n")
        #expect(access(dangling, F_OK) != 0)
        #expect(launcher.running.isEmpty)
    }

    @Test("a FIFO, a folder or a hard link at the log path is refused without blocking")
    func notAFile() async throws {
        let dir = try TemporaryDirectory()
        let logs = try dir.makeDirectory("logs", mode: 0o755)
        let worker = try marker(dir)
        #expect(mkfifo("\(logs)/fifo.log", 0o600) == 0)
        try dir.makeDirectory("logs/dir.log")
        let other = try dir.write("other", "precious\n")
        #expect(link(other, "\(logs)/linked.log") == 0)
        let launcher = CommandWorkerLauncher(template: try WorkerTemplate(argv: [worker, "{id}"], logPath: "\(logs)/{session}.log"), spawner: Spawner(), logger: .silent)
        let expected = [
            "fifo": "log file \(logs)/fifo.log is a FIFO, not a regular file",
            "dir": "log file \(logs)/dir.log is a folder, not a regular file",
            "linked": "log file \(logs)/linked.log has 2 hard links; only a file with one is appended to",
        ]
        for (session, reason) in expected {
            let result = await launcher.launch(WorkerRequest(id: session, backend: .tmux, backendSession: session))
            #expect(result == .refused(reason: reason))
        }
        #expect(try readText(other) == "precious\n")
        // /dev/null, a character device, is a fine log.
        let devnull = CommandWorkerLauncher(template: try WorkerTemplate(argv: [worker, "{id}"], logPath: "/dev/null"), spawner: Spawner(), logger: .silent)
        guard case .launched = await devnull.launch(WorkerRequest(id: "n", backend: .tmux, backendSession: "n")) else {
            Issue.record("/dev/null should be accepted"); return
        }
        #expect(await eventually { access(dir.file("ran-n"), F_OK) == 0 })
    }

    @Test("a new log file is created 0600 and appended to")
    func newLogMode() async throws {
        let dir = try TemporaryDirectory()
        let worker = try marker(dir)
        let launcher = CommandWorkerLauncher(template: try WorkerTemplate(argv: [worker, "{id}"], logPath: dir.file("{id}.log")), spawner: Spawner(), logger: .silent)
        for _ in 0..<2 {
            guard case .launched = await launcher.launch(WorkerRequest(id: "w", backend: .tmux, backendSession: "s")) else {
                Issue.record("did not launch"); return
            }
            #expect(await eventually { launcher.running.isEmpty })
        }
        #expect(await eventually { dir.read("w.log") == "worker-output\nworker-output\n" })
        #expect(permissions(dir.file("w.log")) == 0o600)
    }

    // MARK: - Restore end to end

    @Test("restore keeps a live record whose id would leave the log folder, and reports why")
    func restoreKeepsTraversal() async throws {
        let dir = try TemporaryDirectory()
        let tmux = TmuxServer(label: "harden")
        try tmux.createSession("bmx-trav")
        try tmux.createSession("bmx-fine")
        let logs = try dir.makeDirectory("logs", mode: 0o755)
        let worker = try marker(dir)
        let s = tmux.socketName
        let store = try dir.write("sessions.json", """
        {"version": 1, "sessions": [
          {"id": "../../escaped", "backend": "tmux", "status": "active", "socket": "\(s)", "backendSession": "bmx-trav"},
          {"id": "fine-1", "backend": "tmux", "status": "active", "socket": "\(s)", "backendSession": "bmx-fine"}
        ]}
        """)
        let before = try readText(store)
        let registry = SessionRegistry()
        let launcher = CommandWorkerLauncher(template: try WorkerTemplate(argv: [worker, "{id}"], logPath: "\(logs)/{id}.log"), spawner: Spawner(), logger: .silent)
        let restorer = Restorer(backends: StandardBackends(tmux: "tmux", spawner: Spawner()), launcher: launcher, registry: registry, logger: .silent)
        let report = try await restorer.restore(storeAt: store)
        #expect(report.sessions.map(\.action) == [.keep, .fork])
        #expect(report.sessions[0].probe == .exists)
        #expect(report.sessions[0].workerPID == nil)
        #expect(report.sessions[0].reason.contains("kept without a worker: the log path cannot use {id} for this record: its value contains '/'"))
        #expect(report.totals[.keep] == 1)
        #expect(await eventually { access(dir.file("ran-fine-1"), F_OK) == 0 })
        #expect(access(dir.file("ran-.._.._escaped"), F_OK) != 0)
        #expect(access("\(dir.path)/../escaped.log", F_OK) != 0)
        #expect(folderNames(logs) == ["fine-1.log"])
        #expect(try readText(store) == before, "a keep writes nothing")
        #expect(Set(registry.all.map(\.id)) == ["../../escaped", "fine-1"])

        // wake says the same.
        let woken = await restorer.wake(id: "../../escaped", backend: .tmux, backendSession: "bmx-trav", socket: s)
        #expect(woken.action == .keep)
        #expect(woken.workerPID == nil)
    }

    // MARK: - Reports

    @Test("a killedAt that is not a timestamp is not echoed into the reason")
    func killedAtNotEchoed() {
        func reason(_ killedAt: String) -> String {
            Restorer.decide(status: .active, backend: .tmux, cliId: "codex", probe: .missing(reason: "gone"),
                            expectedCLI: "claude", lazy: false, killedAt: killedAt).reason
        }
        #expect(reason("2026-11-25T10:00:00Z").contains("killed by restore at 2026-11-25T10:00:00Z for a CLI change"))
        #expect(reason("sk-SECRET-123").contains("killed by restore for a CLI change"))
        #expect(!reason("sk-SECRET-123").contains("SECRET"))
        #expect(!reason(String(repeating: "1", count: 41)).contains("111"))
    }

    // MARK: - Environment

    @Test("worker environment entries are validated", arguments: [
        ("NOEQUALS", WorkerEnvironmentError.notAnAssignment("NOEQUALS")), ("=x", .emptyKey), ("", .notAnAssignment("")),
    ])
    func environmentErrors(text: String, error: WorkerEnvironmentError) {
        var env = WorkerEnvironment()
        #expect(throws: error) { try env.set(assignment: text) }
        #expect(env.assignments.isEmpty)
        #expect(!error.description.utf8.contains(0))
    }

    @Test("a key with '=' or a NUL is refused; a value may hold '=' or be empty; a key given twice takes the later value")
    func environmentRules() throws {
        var env = WorkerEnvironment(clear: true)
        #expect(throws: WorkerEnvironmentError.equalsInKey("A=B")) { try env.set("A=B", "1") }
        // NUL cannot come through argv, but the library takes any string.
        #expect(throws: WorkerEnvironmentError.nulByte("A\u{0}B")) { try env.set(assignment: "A\u{0}B=1") }
        #expect(throws: WorkerEnvironmentError.nulByte("A")) { try env.set(assignment: "A=1\u{0}2") }
        #expect(WorkerEnvironmentError.nulByte("A\u{0}B").description == #"worker environment entry 'A\0B' contains a NUL byte"#)
        #expect(env.assignments.isEmpty)
        try env.set(assignment: "X=a=b")
        try env.set(assignment: "EMPTY=")
        try env.set(assignment: "X=c")
        #expect(env.environment.entries == ["X=c", "EMPTY="])
        #expect(WorkerEnvironment().environment.entries == Environment.inherit.entries)
    }

    /// Runs `/usr/bin/env` as the worker with `environment`; returns the lines it printed.
    func workerEnvironment(_ environment: Environment) async throws -> [String] {
        let dir = try TemporaryDirectory()
        let launcher = CommandWorkerLauncher(template: try WorkerTemplate(argv: ["/usr/bin/env"], logPath: dir.file("env.log")),
                                             environment: environment, spawner: Spawner(), logger: .silent)
        guard case .launched = await launcher.launch(WorkerRequest(id: "e", backend: .tmux, backendSession: "s")) else {
            throw TestFailure("env did not launch")
        }
        #expect(await eventually { launcher.running.isEmpty })
        return dir.lines("env.log")
    }

    @Test("a cleared environment gives the worker exactly the variables set")
    func clearedEnvironment() async throws {
        var env = WorkerEnvironment(clear: true)
        try env.set(assignment: "VIGIL_ONE=1")
        try env.set(assignment: "VIGIL_TWO=a=b")
        #expect(try await workerEnvironment(env.environment) == ["VIGIL_ONE=1", "VIGIL_TWO=a=b"])
    }

    @Test("by default the worker inherits the caller's environment, with variables set on top")
    func inheritedEnvironment() async throws {
        let inherited = try await workerEnvironment(WorkerEnvironment().environment)
        let path = Environment.inherit.value(of: "PATH")
        #expect(path != nil)
        #expect(inherited.contains("PATH=\(path ?? "")"))
        var env = WorkerEnvironment()
        try env.set(assignment: "PATH=/vigil/test/bin")
        try env.set(assignment: "VIGIL_EXTRA=yes")
        let lines = try await workerEnvironment(env.environment)
        #expect(lines.contains("PATH=/vigil/test/bin"))
        #expect(lines.contains("VIGIL_EXTRA=yes"))
        #expect(lines.filter { $0.hasPrefix("PATH=") }.count == 1)
        #expect(lines.count == inherited.count + 1)
    }
}
