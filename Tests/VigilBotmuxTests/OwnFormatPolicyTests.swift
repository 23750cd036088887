// `--on-missing` in Vigil's own store format: the same two policies as for
// botmux, with close as the default there. The built binary, a real store
// file and a real tmux server on a private -L socket.
import Testing
import VigilCore
import VigilBackends
import VigilJSON
import VigilTestSupport

@Suite("vigil restore --store: --on-missing close|keep")
struct OwnFormatPolicyTests {
    func run(_ policy: String?) async throws -> (JSONObject, String) {
        let dir = try TemporaryDirectory("vigil-onmissing")
        let server = TmuxServer(label: "onmissing")
        defer { server.tearDown() }
        let made = await Spawner().run(Command(server.executable, arguments: server.socket.arguments + ["-f", "/dev/null", "new-session", "-d", "-s", "bmx-a11ea11e", "sleep", "3600"],
                                               environment: server.environment, timeout: .seconds(20)))
        guard made.termination == .exited(0) else { throw TestFailure("tmux new-session: \(made.stderr.text)") }
        let store = try dir.write("store.json", """
        {"version": 1, "sessions": [
        {"id": "a11ea11e-0000-4000-8000-000000000001", "backend": "tmux", "status": "active", "socket": "\(server.socketName)"},
        {"id": "90de90de-0000-4000-8000-000000000002", "backend": "tmux", "status": "active", "socket": "\(server.socketName)"}
        ]}

        """)
        let o = await VigilBinary.runAsync(["restore", "--store", store, "--json", "--quiet"] + (policy.map { ["--on-missing", $0] } ?? []))
        guard o.termination == .exited(0), case .object(let report) = try JSONValue.parse(o.stdout.text) else {
            throw TestFailure("restore failed: \(o.termination) \(o.stderr.text)")
        }
        return (report, try readText(store))
    }

    @Test("default and close: the missing session's record is closed")
    func close() async throws {
        for policy in [nil, "close"] {
            let (report, store) = try await run(policy)
            #expect(report["totals"]?["close"] == .integer(1))
            #expect(store.contains(#""id": "90de90de-0000-4000-8000-000000000002", "backend": "tmux", "status": "closed""#))
        }
    }

    @Test("keep: the missing session's record stays active, byte for byte, and is reported as kept")
    func keep() async throws {
        let (report, store) = try await run("keep")
        #expect(report["totals"]?["close"] == .integer(0))
        #expect(report["totals"]?["keep"] == .integer(1))
        let line = report["sessions"]?.arrayValue?.compactMap(\.objectValue).first { $0["id"] == .string("90de90de-0000-4000-8000-000000000002") }
        #expect(line?["probe"] == .string("missing"))
        #expect(line?["reason"]?.stringValue?.contains("--on-missing keep") == true)
        #expect(!store.contains("closed"))
    }
}
