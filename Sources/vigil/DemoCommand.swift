#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VigilCore
import VigilBackends
import VigilJSON
import VigilStore
import VigilRestore
import VigilCommandLine
import VigilSystem

/// `vigil demo`: the whole job on a private tmux server, then a clean-up of
/// everything it made (the server, its sessions, the temporary store).
enum DemoCommand {
    static var usage: String { CommandTable.demo.usage }

    static func run(_ args: [String]) async -> Int32 {
        let parsed: ParsedArguments
        do throws(UsageError) {
            parsed = try CommandTable.demo.parse(args)
            if parsed.has("help") { print(CommandTable.demo.help); return ExitCode.ok }
        } catch {
            printError(error.message, usage: usage)
            return ExitCode.usage
        }
        let world: DemoWorld
        let version: String
        do throws(DemoExit) {
            (world, version) = try DemoWorld.start(tmux: parsed.value("tmux") ?? "tmux")
        } catch {
            return error.code
        }
        var err = OutputStream(fd: 2)
        let keep = parsed.has("keep")
        let report: RestoreReport
        do throws(DemoExit) {
            try world.createSessions(version: version, err: &err)
            try world.writeStore()
            report = try await world.restore()
        } catch {
            world.cleanUp(keep: keep, err: &err)
            return error.code
        }
        var out = OutputStream(fd: 1)
        ReportRendering.write(report, json: parsed.has("json"), to: &out)
        if !parsed.has("json") { world.describeAftermath(of: report, to: &out) }
        let written = out.flush()
        world.cleanUp(keep: keep, err: &err)
        if !written, let failed = out.finish("the report", afterwards: "the demo cleaned up after itself") { return failed }
        return ExitCode.ok
    }

    static func record(id: String, backend: String, status: String, socket: String?, cli: String, chat: Int) -> JSONValue {
        var o: JSONObject = ["id": .string(id), "backend": .string(backend), "status": .string(status)]
        if let socket { o.append("socket", .string(socket)) }
        o.append("cliId", .string(cli))
        o.append("chatId", .integer(chat))
        o.append("daemon", .object(["createdBy": .string("demo"), "tags": .array([.string("kept"), .number("1.0")])]))
        return .object(o)
    }

    static func makeTemporaryDirectory() -> String? {
        var template = Array("/tmp/vigil-demo-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else { return nil }
        return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func writeFile(_ path: String, _ bytes: [UInt8]) -> Bool {
        guard case .success(let fd) = system_open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600) else { return false }
        defer { system_close(fd) }
        guard case .success = system_writeAll(fd, bytes) else { return false }
        return true
    }
}

/// A demo step that failed: its `Error:` line is already printed; `code` is the exit status.
struct DemoExit: Error {
    let code: Int32
}

/// The demo's private world: a tmux server on a `-L` socket of its own and
/// a temporary folder holding the store.
struct DemoWorld {
    let tmux: String
    let spawner: Spawner
    /// The demo's environment, without the variables that would tie tmux to
    /// a server the user is attached to.
    let environment: Environment
    let socket: String
    let directory: String
    var storePath: String { "\(directory)/sessions.json" }

    // Sessions: three alive with the expected CLI, one alive with another, two gone.
    static let naming = SessionNaming()
    static let alive = ["3f2c9a1e-7b7d-4c1e-9a55-0c1d2e3f4a5b", "8d41be07-1f0a-4f3e-b6a2-1e2f3a4b5c6d", "c0ffee42-5a6b-4c7d-8e9f-a0b1c2d3e4f5"]
    static let otherCLI = "51de7a9c-2b3c-4d5e-8f90-1a2b3c4d5e6f"
    static let gone = ["deadbeef-0000-4000-8000-000000000001", "0badcafe-0000-4000-8000-000000000002"]

    /// Checks that tmux runs and makes the temporary folder.
    /// - Returns: the world and the first line of `tmux -V`.
    /// - Throws: `DemoExit` 69 without tmux, 73 without a temporary folder.
    static func start(tmux: String) throws(DemoExit) -> (DemoWorld, version: String) {
        let spawner = Spawner()
        let env = Environment.inherited(removing: ["TMUX", "TMUX_PANE"])
        let version = spawner.runSynchronously(Command(tmux, arguments: ["-V"], environment: env))
        guard version.termination == .exited(0) else {
            printError("tmux is needed for the demo: \(version.failureReason(program: tmux, timeout: .seconds(3))) (install it, e.g. apt-get install tmux)")
            throw DemoExit(code: ExitCode.unavailable)
        }
        let socket = "vigil-demo-\(getpid())"
        guard let dir = DemoCommand.makeTemporaryDirectory() else {
            printError("cannot create a temporary directory: \(Errno.current)")
            throw DemoExit(code: ExitCode.cannotCreate)
        }
        let world = DemoWorld(tmux: tmux, spawner: spawner, environment: env, socket: socket, directory: dir)
        return (world, String(version.stdout.text.split(separator: "\n").first ?? "tmux"))
    }

    /// Runs tmux on the demo's server.
    func tmuxRun(_ a: [String]) -> Outcome {
        spawner.runSynchronously(Command(tmux, arguments: ["-L", socket] + a, environment: environment))
    }

    /// Starts the live sessions (the expected CLI's and the other CLI's) and says what the demo will do.
    /// - Throws: `DemoExit` 70 when tmux cannot create one.
    func createSessions(version: String, err: inout OutputStream) throws(DemoExit) {
        err.line("vigil demo: \(version), private server -L \(socket)")
        for id in Self.alive + [Self.otherCLI] {
            let o = tmuxRun(["new-session", "-d", "-s", Self.naming.name(forID: id), "sleep", "3600"])
            if o.termination != .exited(0) {
                printError("could not create tmux session: \(o.failureReason(program: tmux, timeout: .seconds(3)))")
                throw DemoExit(code: ExitCode.software)
            }
        }
        err.line("vigil demo: created \(Self.alive.count + 1) sessions; the store also names \(Self.gone.count) that are gone")
        err.line("vigil demo: restoring \(storePath) (expecting CLI claude)")
        err.flush()
    }

    /// Writes the store, with fields that belong to the daemon and must survive.
    /// - Throws: `DemoExit` 73 when it cannot be written.
    func writeStore() throws(DemoExit) {
        var records: [JSONValue] = []
        for (n, id) in Self.alive.enumerated() {
            records.append(DemoCommand.record(id: id, backend: "tmux", status: "active", socket: socket, cli: "claude", chat: 1000 + n))
        }
        records.append(DemoCommand.record(id: Self.otherCLI, backend: "tmux", status: "active", socket: socket, cli: "codex", chat: 2000))
        for (n, id) in Self.gone.enumerated() {
            records.append(DemoCommand.record(id: id, backend: "tmux", status: "active", socket: socket, cli: "claude", chat: 3000 + n))
        }
        records.append(DemoCommand.record(id: "pty-7f3e", backend: "pty", status: "active", socket: nil, cli: "claude", chat: 4000))
        records.append(DemoCommand.record(id: "old-91ab", backend: "tmux", status: "closed", socket: socket, cli: "claude", chat: 5000))
        let doc: JSONObject = ["version": .integer(1), "sessions": .array(records)]
        if !DemoCommand.writeFile(storePath, JSONValue.object(doc).serialized(.pretty) + [10]) {
            printError("cannot write the demo store \(storePath)")
            throw DemoExit(code: ExitCode.cannotCreate)
        }
    }

    /// Restores the store, then waits (5 s at most) for the workers, which
    /// only set an option, so that the check of their marks is real.
    ///
    /// The worker re-attaches by marking the session; it is a real process
    /// launched through the spawn core (no shell), one per live session.
    /// - Throws: `DemoExit` with the store error's exit status.
    func restore() async throws(DemoExit) -> RestoreReport {
        let template = try! WorkerTemplate(argv: [tmux, "-L", socket, "set-option", "-t", "={session}:", "@vigil-worker", "attached {id}"])
        let launcher = CommandWorkerLauncher(template: template, spawner: spawner, logger: .silent)
        let restorer = Restorer(
            options: RestoreOptions(expectedCLI: "claude"),
            backends: StandardBackends(tmux: tmux, spawner: spawner),
            launcher: launcher,
            logger: .silent)
        let report: RestoreReport
        do throws(StoreError) {
            report = try await restorer.restore(storeAt: storePath)
        } catch {
            printError(error.description)
            throw DemoExit(code: error.exitCode)
        }
        var waited = 0
        // Up to 5 s for the workers to finish, the task suspended between looks.
        while !launcher.running.isEmpty && waited < 500 {
            try? await Task.sleep(for: .milliseconds(10))
            waited += 1
        }
        return report
    }

    /// After the report: how many workers marked their session, and which sessions are left.
    func describeAftermath(of report: RestoreReport, to out: inout OutputStream) {
        out.line()
        var marked = 0
        for s in report.lines where s.workerPID != nil {
            let o = tmuxRun(["show-options", "-v", "-t", "=\(s.backendSession):", "@vigil-worker"])
            if o.termination == .exited(0) && o.stdout.text.hasPrefix("attached") { marked += 1 }
        }
        out.line("workers that re-attached (marked their session): \(marked) of \(report.lines.filter { $0.workerPID != nil }.count)")
        let left = tmuxRun(["list-sessions", "-F", "#{session_name}"]).stdout.text.split(separator: "\n")
        out.line("tmux sessions left on -L \(socket): \(left.joined(separator: ", "))")
    }

    /// Removes the server, its socket file and the store (or, with `--keep`, says where they are).
    func cleanUp(keep: Bool, err: inout OutputStream) {
        if keep {
            err.line("vigil demo: kept tmux server -L \(socket) and store \(storePath)")
        } else {
            // tmux leaves its socket file behind on kill-server; ask where it is first.
            let socketPath = Outcome.firstLine(of: tmuxRun(["display-message", "-p", "#{socket_path}"]).stdout.text)
            _ = tmuxRun(["kill-server"])
            if socketPath.hasPrefix("/") && socketPath.hasSuffix("/\(socket)") { unlink(socketPath) }
            unlink(storePath)
            unlink("\(storePath).lock")
            rmdir(directory)
        }
        err.flush()
    }
}
