#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing
import VigilCore
import VigilJSON
import VigilStore
import VigilTestSupport

/// `vigil restore` on a store another program wrote, tried as a hostile host
/// would: traversal ids and planted links at the log path, the workers'
/// environment, and secrets in records that must never reach an output.
/// Real tmux on private -L sockets, real files, the built binary.
@Suite("vigil restore hardening", .timeLimit(.minutes(3)))
struct HardeningCLITests {
    // MARK: - --worker-env

    @Test("a bad --worker-env is a usage error: exit 64, one line", arguments: [
        ["--worker", "w", "--worker-env", "=x"], ["--worker", "w", "--worker-env", "NOEQUALS"], ["--worker", "w", "--worker-env", ""],
        ["--worker", "w", "--worker-env"], ["--worker-env", "A=1"], ["--worker-env-clear"], ["--worker-env-clear=yes", "--worker", "w"],
    ])
    func badWorkerEnv(args: [String]) async throws {
        let dir = try TemporaryDirectory()
        let store = try dir.write("s.json", "{\"version\": 1, \"sessions\": []}\n")
        let o = await VigilBinary.runAsync(["restore", "--store", store] + args)
        #expect(o.termination == .exited(64))
        let lines = o.stderr.text.split(separator: "\n")
        #expect(lines.count == 1, "one line: \(o.stderr.text)")
        #expect(lines.first?.hasPrefix("Error: ") == true)
        #expect(o.stdout.text.isEmpty)
        #expect(access(store + ".lock", F_OK) != 0, "nothing written")
    }

    /// One live tmux session with a record; runs restore with `/usr/bin/env`
    /// as the worker logging to `env.log`; returns the worker's environment.
    func workerEnvironment(_ extra: [String], vigilEnvironment: Environment = .inherit) async throws -> [String] {
        let dir = try TemporaryDirectory()
        let server = TmuxServer(label: "cli-env")
        try server.createSession("bmx-envtest")
        let store = try dir.write("s.json", """
        {"version": 1, "sessions": [{"id": "envtest-1", "backend": "tmux", "status": "active", "socket": "\(server.socketName)", "backendSession": "bmx-envtest"}]}
        """)
        let o = await VigilBinary.runAsync(["restore", "--store", store, "--json", "--quiet", "--worker", "/usr/bin/env",
                                 "--worker-log", dir.file("env.log")] + extra, environment: vigilEnvironment)
        #expect(o.termination == .exited(0), "\(o.stderr.text)")
        #expect(o.stdout.text.contains("\"action\":\"fork\""))
        // env exits at once; its output is complete when the file stops being empty and ends in a newline.
        #expect(await eventually { dir.read("env.log").map { $0.hasSuffix("\n") } ?? false })
        try await Task.sleep(for: .milliseconds(50))
        return dir.lines("env.log")
    }

    @Test("--worker-env-clear gives the worker exactly the --worker-env variables")
    func clearedWorkerEnv() async throws {
        let lines = try await workerEnvironment(["--worker-env-clear", "--worker-env", "ONE=1", "--worker-env", "TWO=a=b",
                                           "--worker-env", "EMPTY=", "--worker-env", "ONE=again"])
        #expect(lines == ["ONE=again", "TWO=a=b", "EMPTY="])
    }

    @Test("by default the worker inherits vigil's environment, with --worker-env on top")
    func inheritedWorkerEnv() async throws {
        let env = Environment.inherited(setting: ["VIGIL_FROM_PARENT": "yes", "VIGIL_OVERRIDDEN": "parent"])
        let lines = try await workerEnvironment(["--worker-env", "VIGIL_OVERRIDDEN=flag", "--worker-env", "VIGIL_NEW=1"], vigilEnvironment: env)
        #expect(lines.contains("VIGIL_FROM_PARENT=yes"))
        #expect(lines.contains("VIGIL_OVERRIDDEN=flag"))
        #expect(!lines.contains("VIGIL_OVERRIDDEN=parent"))
        #expect(lines.contains("VIGIL_NEW=1"))
        #expect(lines.contains("PATH=\(env.value(of: "PATH") ?? "")"))
    }

    // MARK: - The log path

    @Test("a traversal id and a planted symlink at the log path: kept with the reason, nothing written, nothing launched")
    func logPathRefusals() async throws {
        let dir = try TemporaryDirectory()
        let server = TmuxServer(label: "cli-logpath")
        for name in ["bmx-trav", "bmx-linked", "bmx-fine"] { try server.createSession(name) }
        let logs = try dir.makeDirectory("logs", mode: 0o755)
        let target = try dir.write("target", "original\n")
        #expect(symlink(target, "\(logs)/linked-1.log") == 0)
        let worker = try dir.fixture("worker", "#!/bin/sh\ntouch '\(dir.path)/ran-'\"$2\"\necho worker-output\n")
        let s = server.socketName
        let store = try dir.write("s.json", """
        {"version": 1, "sessions": [
          {"id": "../../escaped", "backend": "tmux", "status": "active", "socket": "\(s)", "backendSession": "bmx-trav"},
          {"id": "linked-1", "backend": "tmux", "status": "active", "socket": "\(s)", "backendSession": "bmx-linked"},
          {"id": "fine-1", "backend": "tmux", "status": "active", "socket": "\(s)", "backendSession": "bmx-fine"}
        ]}
        """)
        let before = try readText(store)
        let o = await VigilBinary.runAsync(["restore", "--store", store, "--json", "--verbose", "--worker", "\(worker) {id} {session}",
                                 "--worker-log", "\(logs)/{id}.log"])
        #expect(o.termination == .exited(0), "\(o.stderr.text)")
        let doc = try JSONValue.parse(o.stdout.text)
        let sessions = doc.objectValue?["sessions"]?.arrayValue?.compactMap(\.objectValue) ?? []
        #expect(sessions.map { $0["action"]?.stringValue } == ["keep", "keep", "fork"])
        #expect(sessions.map { $0["workerPid"] == .null } == [true, true, false])
        #expect(sessions[0]["reason"]?.stringValue?.contains("the log path cannot use {id} for this record: its value contains '/'") == true)
        #expect(sessions[1]["reason"]?.stringValue?.contains("log file \(logs)/linked-1.log is a symbolic link; it is not followed") == true)
        #expect(doc.objectValue?["totals"]?.objectValue?["keep"] == .number("2"))
        // The warnings say the same on stderr.
        #expect(o.stderr.text.contains("[../../escaped] no worker for tmux session bmx-trav: the log path cannot use {id}"))
        #expect(o.stderr.text.contains("[linked-1] no worker for tmux session bmx-linked: log file"))
        #expect(await eventually { access(dir.file("ran-bmx-fine"), F_OK) == 0 })
        #expect(await eventually { (try? readText("\(logs)/fine-1.log")) == "worker-output\n" })
        #expect(access(dir.file("ran-bmx-trav"), F_OK) != 0, "no worker for the traversal id")
        #expect(access(dir.file("ran-bmx-linked"), F_OK) != 0, "no worker for the planted link")
        #expect(try readText(target) == "original\n", "nothing written through the link")
        #expect(isSymbolicLink("\(logs)/linked-1.log"))
        #expect(access("\(dir.path)/../escaped.log", F_OK) != 0)
        #expect(folderNames(logs) == ["fine-1.log", "linked-1.log"])
        #expect(try readText(store) == before, "a keep writes nothing")
    }

    @Test("control characters from a store never reach the terminal raw")
    func controlCharacters() async throws {
        let dir = try TemporaryDirectory()
        let server = TmuxServer(label: "cli-esc")
        let store = try dir.write("s.json", """
        {"version": 1, "sessions": [{"id": "esc\\u001b]0;pwned\\u0007-1", "backend": "tmux", "status": "active", "socket": "\(server.socketName)", "backendSession": "bmx-esc"}]}
        """)
        let o = await VigilBinary.runAsync(["restore", "--store", store, "--verbose"])
        #expect(o.termination == .exited(0), "\(o.stderr.text)")
        #expect(o.stdout.text.contains("close"))
        for stream in [o.stdout.bytes, o.stderr.bytes] {
            #expect(!stream.contains(0x1B))
            #expect(!stream.contains(0x07))
        }
        #expect(o.stdout.text.contains(#"esc\x1B]0;pwned\x07-1"#))
        #expect(o.stderr.text.contains(#"[esc\x1B]0;pwned\x07-1]"#))
    }

    // MARK: - Secrets in records

    static let secret = "sk-SECRET-123"
    static let prompt = "PROMPT-please-never-print-this"

    @Test("a record's other fields (a token, a prompt) reach no output: report, --json, log lines, worker log, errors")
    func noLeaks() async throws {
        let dir = try TemporaryDirectory()
        let server = TmuxServer(label: "cli-leak")
        for name in ["bmx-fork0001", "bmx-kill0001", "bmx-trav"] { try server.createSession(name) }
        let logs = try dir.makeDirectory("logs", mode: 0o755)
        // The worker prints its arguments and its whole environment to the log.
        let worker = try dir.fixture("worker", "#!/bin/sh\necho \"args: $*\"\nenv\n")
        let s = server.socketName
        let secrets = "\"token\": \"\(Self.secret)\", \"prompt\": \"\(Self.prompt)\", \"daemon\": {\"apiKey\": \"\(Self.secret)\", \"history\": [\"\(Self.prompt)\"]}"
        let store = try dir.write("s.json", """
        {"version": 1, "sessions": [
          {"id": "fork0001-a", "backend": "tmux", "status": "active", "socket": "\(s)", "cliId": "claude", \(secrets)},
          {"id": "gone0001-b", "backend": "tmux", "status": "active", "socket": "\(s)", "cliId": "claude", \(secrets)},
          {"id": "herd0001-c", "backend": "herdr", "status": "active", \(secrets)},
          {"id": "kill0001-d", "backend": "tmux", "status": "active", "socket": "\(s)", "cliId": "codex", \(secrets)},
          {"id": "clos0001-e", "backend": "tmux", "status": "closed", "socket": "\(s)", \(secrets)},
          {"id": "pty-f", "backend": "pty", "status": "active", \(secrets)},
          {"id": "../trav", "backend": "tmux", "status": "active", "socket": "\(s)", "backendSession": "bmx-trav", \(secrets)},
          {"id": "kild0001-g", "backend": "tmux", "status": "active", "socket": "\(s)", "killedAt": "\(Self.secret)", \(secrets)}
        ], "owner": "\(Self.secret)"}
        """)
        let base = ["restore", "--store", store, "--herdr", "/nonexistent/herdr", "--retries", "0", "--expect-cli", "claude",
                    "--worker", "\(worker) {id} {session} {backend} {socket}", "--worker-log", "\(logs)/{id}.log"]
        var outputs: [(String, Outcome)] = []
        outputs.append(("dry run", await VigilBinary.runAsync(base + ["--dry-run"])))
        outputs.append(("dry run --json", await VigilBinary.runAsync(base + ["--dry-run", "--json"])))
        outputs.append(("dry run summary", await VigilBinary.runAsync(base + ["--dry-run", "--report", dir.file("report.json")])))
        let first = await VigilBinary.runAsync(base + ["--verbose"])
        outputs.append(("restore", first))
        outputs.append(("restore again --json", await VigilBinary.runAsync(base + ["--json"])))
        outputs.append(("lazy --json", await VigilBinary.runAsync(base + ["--lazy", "--json"])))
        for (name, o) in outputs { #expect(o.termination == .exited(0), "\(name): \(o.stderr.text)") }

        // The runs went through every outcome, so every path was looked at.
        let rows = first.stdout.text.split(separator: "\n").dropFirst().map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        let actions = Set(rows.compactMap { $0.count > 4 ? String($0[4]) : nil })
        #expect(actions == ["fork", "close", "keep", "kill", "skip"], "\(first.stdout.text)")
        #expect(first.stdout.text.contains("kept without a worker"), "the refused launch was exercised")
        #expect(first.stdout.text.contains("no authoritative answer"), "the unknown keep was exercised")
        #expect(first.stdout.text.contains("session was killed by restore for a CLI change"), "the killedAt keep was exercised")

        // Invalid stores: the error names the record and the problem, never another field.
        let invalid = try dir.write("invalid.json", """
        {"version": 1, "sessions": [{"id": "bad-1", "backend": "tmux", "status": "bogus", \(secrets)}]}
        """)
        let broken = try dir.write("broken.json", """
        {"version": 1, "sessions": [{"id": "bad-2", "backend": "tmux", "token": "\(Self.secret)" "prompt": "\(Self.prompt)"}]}
        """)
        let duplicate = try dir.write("duplicate.json", """
        {"version": 1, "sessions": [{"id": "bad-3", "backend": "tmux", "status": "active", "token": "\(Self.secret)", "status": "closed", "prompt": "\(Self.prompt)"}]}
        """)
        for path in [invalid, broken, duplicate] {
            let o = await VigilBinary.runAsync(["restore", "--store", path])
            #expect(o.termination == .exited(65), "\(path): \(o.stderr.text)")
            outputs.append((path, o))
        }

        // Every stream of every run, and every worker log.
        #expect(await eventually { (try? readText("\(logs)/fork0001-a.log"))?.contains("args: fork0001-a") == true })
        try await Task.sleep(for: .milliseconds(100))
        var texts = outputs.flatMap { [("\($0.0) stdout", $0.1.stdout.text), ("\($0.0) stderr", $0.1.stderr.text)] }
        for name in folderNames(logs) { texts.append((name, try readText("\(logs)/\(name)"))) }
        texts.append(("--report file", try readText(dir.file("report.json"))))
        #expect(folderNames(logs) == ["fork0001-a.log"])
        for (name, text) in texts {
            #expect(!text.contains(Self.secret), "\(name) leaks the token: \(text)")
            #expect(!text.contains(Self.prompt), "\(name) leaks the prompt: \(text)")
        }
        #expect(texts.count == 20)
        // The store still holds them: they are the daemon's.
        #expect(try readText(store).contains(Self.prompt))
    }
}
