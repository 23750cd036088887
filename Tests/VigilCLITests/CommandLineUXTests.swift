#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing
import VigilCore
import VigilJSON
import VigilTestSupport

/// The command line as a user meets it: version, completions, help that names
/// every option, schema-tagged JSON, a probe with one bad name among good
/// ones, and a big restore whose default output stays short. Real binary,
/// real tmux on private sockets.
@Suite("command line experience", .timeLimit(.minutes(3)))
struct CommandLineUXTests {
    func object(_ text: some StringProtocol) throws -> JSONObject {
        guard case .object(let o) = try JSONValue.parse(String(text)) else { throw TestFailure("not an object: \(text)") }
        return o
    }

    @Test("vigil --version and vigil version: the version, the tmux found, the wait strategy; exit 0", arguments: [["--version"], ["version"]])
    func version(args: [String]) async throws {
        let o = await VigilBinary.runAsync(args)
        #expect(o.termination == .exited(0), "\(o.stderr.text)")
        let lines = o.stdout.text.split(separator: "\n")
        #expect(lines.first?.hasPrefix("vigil ") == true)
        let tmux = Spawner().runSynchronously(Command("tmux", arguments: ["-V"])).stdout.text.split(separator: "\n").first.map(String.init) ?? "?"
        #expect(lines.contains { $0 == "tmux: \(tmux)" }, "\(o.stdout.text)")
        #expect(lines.contains { $0.hasPrefix("wait strategy: \(pidfdSupported() ? "pidfd" : "portable")") })

        let j = await VigilBinary.runAsync(args + ["--json"])
        let doc = try object(j.stdout.text)
        #expect(doc["schema"] == .number("1"))
        #expect(doc["tmux"] == .string(tmux))
        #expect(doc["waitStrategy"] == .string(pidfdSupported() ? "pidfd" : "portable"))
    }

    @Test("a missing tmux is reported by version, not an error")
    func versionWithoutTmux() async {
        let o = await VigilBinary.runAsync(["version", "--tmux", "/nonexistent/tmux"])
        #expect(o.termination == .exited(0))
        #expect(o.stdout.text.contains("tmux: not found"), "\(o.stdout.text)")
    }

    @Test("bash loads the completion script and offers the commands and restore's options")
    func bashCompletion() async throws {
        let vigil = VigilBinary.path
        let load = await Spawner().run(Command("bash", arguments: ["--norc", "-c", "source <('\(vigil)' completion bash) && complete -p vigil"]))
        #expect(load.termination == .exited(0), "\(load.stderr.text)")
        #expect(load.stdout.text.contains("vigil"))
        let offer = await Spawner().run(Command("bash", arguments: ["--norc", "-c",
            "source <('\(vigil)' completion bash); COMP_WORDS=(vigil restore --lo); COMP_CWORD=2; _vigil; printf '%s\\n' \"${COMPREPLY[@]}\""]))
        #expect(Set(offer.stdout.text.split(separator: "\n")) == ["--lock", "--lock-timeout-ms"], "\(offer.stdout.text)")
        for shell in ["zsh", "fish"] {
            let o = await VigilBinary.runAsync(["completion", shell])
            #expect(o.termination == .exited(0))
            #expect(o.stdout.text.contains("worker-env"), "\(shell)")
        }
        let bad = await VigilBinary.runAsync(["completion", "tcsh"])
        #expect(bad.termination == .exited(64))
        #expect(bad.stderr.text.split(separator: "\n").count == 1)
    }

    @Test("every option the help lists is in the usage line", arguments: ["probe", "list", "restore", "demo", "version"])
    func usageNamesEveryOption(command: String) async {
        let o = await VigilBinary.runAsync([command, "--help"])
        #expect(o.termination == .exited(0))
        let lines = o.stdout.text.split(separator: "\n")
        guard let usage = lines.first(where: { $0.hasPrefix("Usage: ") }) else { Issue.record("no usage line"); return }
        let options = lines.filter { $0.hasPrefix("  --") }.map { $0.dropFirst(2).split(separator: " ").first.map(String.init) ?? "" }
        #expect(!options.isEmpty)
        for option in options { #expect(usage.contains("[\(option)"), "\(command): usage lacks \(option)") }
    }

    @Test("probe and list refuse --backend pty, which has no multiplexer to ask: exit 64, nothing run", arguments: ["probe", "list"])
    func ptyIsNoBackendToAsk(command: String) async throws {
        let o = await VigilBinary.runAsync([command, "--backend", "pty"] + (command == "probe" ? ["bmx-1"] : []))
        #expect(o.termination == .exited(64))
        #expect(o.stdout.text.isEmpty)
        #expect(o.stderr.text.split(separator: "\n").first == "Error: option '--backend' must be one of tmux, zellij, herdr, got 'pty'; see 'vigil \(command) --help'")
    }

    @Test("probe: one name tmux cannot hold among good ones; the good ones are answered, the bad one is an error line, exit 64")
    func probeOneBadName() async throws {
        let server = TmuxServer(label: "ux-bad")
        defer { server.tearDown() }
        try server.createSession("bmx-good")
        let o = await VigilBinary.runAsync(["probe", "--backend", "tmux", "--socket", server.socketName, "bmx-good", "bad:name", "bmx-gone"])
        #expect(o.termination == .exited(64))
        let out = o.stdout.text.split(separator: "\n")
        #expect(out.count == 2)
        #expect(out.first?.hasPrefix("bmx-good exists (") == true, "\(o.stdout.text)")
        #expect(out.last?.hasPrefix("bmx-gone missing (") == true, "\(o.stdout.text)")
        let err = o.stderr.text.split(separator: "\n")
        #expect(err.count == 1)
        #expect(err.first?.hasPrefix("Error: ") == true)
        #expect(err.first?.contains("bad:name") == true)
    }

    @Test("JSON outputs carry \"schema\": 1")
    func schema() async throws {
        let server = TmuxServer(label: "ux-schema")
        defer { server.tearDown() }
        try server.createSession("bmx-s")
        let probe = await VigilBinary.runAsync(["probe", "--backend", "tmux", "--socket", server.socketName, "--json", "bmx-s"])
        #expect(try object(probe.stdout.text.split(separator: "\n")[0])["schema"] == .number("1"))
        let list = await VigilBinary.runAsync(["list", "--backend", "tmux", "--socket", server.socketName, "--json"])
        #expect(try object(list.stdout.text)["schema"] == .number("1"))
        let dir = try TemporaryDirectory()
        let store = try dir.write("s.json", "{\"version\": 1, \"sessions\": [{\"id\": \"s\", \"backend\": \"tmux\", \"status\": \"active\", \"socket\": \"\(server.socketName)\"}]}\n")
        let restore = await VigilBinary.runAsync(["restore", "--store", store, "--dry-run", "--json"])
        #expect(try object(restore.stdout.text)["schema"] == .number("1"))
    }

    @Test("a 100,000-record restore prints a few dozen lines by default; --report PATH holds every record")
    func bigRestoreStaysShort() async throws {
        let dir = try TemporaryDirectory()
        // Every record names a server nobody runs: 100,000 closes decided.
        var text = "{\"version\": 1, \"sessions\": [\n"
        let count = 100_000
        for i in 0..<count {
            text += "{\"id\": \"rec-\(i)\", \"backend\": \"tmux\", \"status\": \"active\", \"socket\": \"vigil-ux-none-\(getpid())\"}"
            text += i == count - 1 ? "\n" : ",\n"
        }
        text += "]}\n"
        let store = try dir.write("big.json", text)
        let report = dir.file("report.json")
        let o = await VigilBinary.runAsync(["restore", "--store", store, "--dry-run", "--report", report], timeout: .seconds(170))
        #expect(o.termination == .exited(0), "\(o.stderr.text)")
        let lines = o.stdout.text.split(separator: "\n", omittingEmptySubsequences: false).count
            + o.stderr.text.split(separator: "\n").count
        #expect(lines <= 40, "\(lines) lines: \(o.stdout.text.prefix(2000))")
        #expect(o.stdout.text.hasPrefix("100000 records: fork 0, close 100000,"), "\(o.stdout.text.prefix(300))")
        #expect(o.stdout.text.contains("and 99995 more"))
        #expect(o.stdout.text.contains("Full report: \(report)"))
        let doc = try object(try readText(report))
        #expect(doc["schema"] == .number("1"))
        #expect(doc["sessions"]?.arrayValue?.count == count)
        #expect(permissions(report) == 0o600)
    }

    @Test("--report never writes through a symbolic link: exit 74, the target untouched")
    func reportNotThroughSymlink() async throws {
        let dir = try TemporaryDirectory()
        let store = try dir.write("s.json", "{\"version\": 1, \"sessions\": []}\n")
        let target = try dir.write("target", "mine\n")
        #expect(symlink(target, dir.file("report.json")) == 0)
        let o = await VigilBinary.runAsync(["restore", "--store", store, "--dry-run", "--report", dir.file("report.json")])
        #expect(o.termination == .exited(74))
        #expect(o.stderr.text.split(separator: "\n").count == 1)
        #expect(try readText(target) == "mine\n")
    }
}
