// HerdrBackend. herdr cannot be installed here, so these tests use the pure
// classifier with hand-made outcomes and `#!/bin/sh` fixture executables that
// reproduce its documented output: `herdr session list --json` prints
// `{"sessions": [...]}` or `{"result": {"sessions": [...]}}`, rows
// `{"name": N, "running": true|false}`. The fixtures log their argv so the
// tests can assert the exact command lines.
import Testing
import VigilBackends
import VigilCore
import VigilTestSupport

struct HerdrRow: Sendable, CustomTestStringConvertible {
    let name: String
    var termination: Termination = .exited(0)
    let stdout: String
    /// Expected state per name; empty when the listing must be unknown.
    var expect: [String: SessionState] = [:]
    /// A fragment an unknown reason must contain.
    var reason = ""

    var testDescription: String { name }
}

private let rows = #"{"sessions": [{"name": "bmx-aaaa1111", "running": true}, {"name": "bmx-zzzz9999", "running": false}]}"#

private let herdrRows: [HerdrRow] = [
    // Accepted shapes.
    HerdrRow(name: "top-level sessions array", stdout: rows,
             expect: ["bmx-aaaa1111": .exists, "bmx-zzzz9999": .missing, "bmx-other": .missing, "bmx-aaaa": .missing]),
    HerdrRow(name: "result.sessions array",
             stdout: #"{"result": {"sessions": [{"name": "bmx-aaaa1111", "running": true}]}, "id": 1}"#,
             expect: ["bmx-aaaa1111": .exists, "bmx-aaaa111": .missing]),
    HerdrRow(name: "empty sessions array", stdout: #"{"sessions": []}"#, expect: ["bmx-aaaa1111": .missing]),
    HerdrRow(name: "extra fields and nested values are ignored",
             stdout: #" { "ok": true, "version": -1.5e+3, "sessions": [ { "name": "bmx-aaaa1111", "running": true, "pid": 42, "tags": [null, false, {}] } ] } "# + "\n",
             expect: ["bmx-aaaa1111": .exists]),
    HerdrRow(name: "escapes in names are decoded",
             stdout: #"{"sessions": [{"name": "bmx-\u00e9\ud83d\ude00\"\\\/x", "running": true}]}"#,
             expect: ["bmx-é😀\"\\/x": .exists, "bmx-": .missing]),
    HerdrRow(name: "listed twice, once running: running wins",
             stdout: #"{"sessions": [{"name": "a", "running": false}, {"name": "a", "running": true}]}"#,
             expect: ["a": .exists]),
    // Not JSON.
    HerdrRow(name: "empty output", stdout: "", reason: "printed nothing"),
    HerdrRow(name: "white space only", stdout: " \n\t", reason: "printed nothing"),
    HerdrRow(name: "truncated JSON", stdout: #"{"sessions": [{"name": "a", "running": tr"#, reason: "invalid JSON"),
    HerdrRow(name: "unbalanced brackets", stdout: #"{"sessions": [}"#, reason: "invalid JSON"),
    HerdrRow(name: "trailing comma", stdout: #"{"sessions": [],}"#, reason: "invalid JSON"),
    HerdrRow(name: "trailing comma in array", stdout: #"{"sessions": [{"name": "a", "running": true},]}"#, reason: "invalid JSON"),
    HerdrRow(name: "single quotes", stdout: #"{'sessions': []}"#, reason: "invalid JSON"),
    HerdrRow(name: "text after the value", stdout: #"{"sessions": []} {"sessions": []}"#, reason: "unexpected data after the end of the document"),
    HerdrRow(name: "comment", stdout: "{\"sessions\": [] // none\n}", reason: "invalid JSON"),
    HerdrRow(name: "NaN", stdout: #"{"sessions": [], "x": NaN}"#, reason: "invalid JSON"),
    HerdrRow(name: "leading zero", stdout: #"{"sessions": [], "x": 01}"#, reason: "invalid JSON"),
    HerdrRow(name: "bare minus", stdout: #"{"sessions": [], "x": -}"#, reason: "invalid JSON"),
    HerdrRow(name: "raw control character in a string", stdout: "{\"sessions\": [{\"name\": \"a\tb\", \"running\": true}]}", reason: "control character"),
    HerdrRow(name: "invalid escape", stdout: #"{"sessions": [{"name": "a\x", "running": true}]}"#, reason: "invalid escape"),
    HerdrRow(name: "lone surrogate", stdout: #"{"sessions": [{"name": "a\ud800", "running": true}]}"#, reason: "surrogate"),
    HerdrRow(name: "duplicate member", stdout: #"{"sessions": [], "sessions": [{"name": "a", "running": true}]}"#, reason: "duplicate"),
    HerdrRow(name: "misspelt literal", stdout: #"{"sessions": [{"name": "a", "running": True}]}"#, reason: "invalid JSON"),
    HerdrRow(name: "nesting too deep", stdout: String(repeating: "[", count: 200) + String(repeating: "]", count: 200), reason: "nested deeper than 128 levels"),
    // JSON of another shape.
    HerdrRow(name: "top level is an array", stdout: #"[{"name": "a", "running": true}]"#, reason: "top level is not an object"),
    HerdrRow(name: "no sessions key", stdout: #"{"items": []}"#, reason: "no \"sessions\""),
    HerdrRow(name: "empty object", stdout: "{}", reason: "no \"sessions\""),
    HerdrRow(name: "sessions is an object", stdout: #"{"sessions": {"a": true}}"#, reason: "not an array"),
    HerdrRow(name: "sessions is a string", stdout: #"{"sessions": "a"}"#, reason: "not an array"),
    HerdrRow(name: "sessions is null", stdout: #"{"sessions": null}"#, reason: "not an array"),
    HerdrRow(name: "result is an array", stdout: #"{"result": []}"#, reason: "\"result\" is not an object"),
    HerdrRow(name: "result without sessions", stdout: #"{"result": {}}"#, reason: "no \"sessions\""),
    HerdrRow(name: "row is a string", stdout: #"{"sessions": ["bmx-aaaa1111"]}"#, reason: "not an object"),
    HerdrRow(name: "row without name", stdout: #"{"sessions": [{"running": true}]}"#, reason: "no string \"name\""),
    HerdrRow(name: "name is a number", stdout: #"{"sessions": [{"name": 7, "running": true}]}"#, reason: "no string \"name\""),
    HerdrRow(name: "row without running", stdout: #"{"sessions": [{"name": "a"}]}"#, reason: "no boolean \"running\""),
    HerdrRow(name: "running is a string", stdout: #"{"sessions": [{"name": "a", "running": "yes"}]}"#, reason: "no boolean \"running\""),
    // Not a run that answered.
    HerdrRow(name: "non-zero exit with valid JSON", termination: .exited(1), stdout: rows, reason: "herdr exit 1"),
    HerdrRow(name: "timeout", termination: .timedOut(.kill), stdout: "", reason: "timed out after 3000 ms"),
    HerdrRow(name: "spawn ENOENT", termination: .spawnFailed(.noSuchFile), stdout: "", reason: "herdr not found on PATH (ENOENT)"),
]

@Suite("herdr backend")
struct HerdrBackendTests {
    @Test(arguments: herdrRows)
    func classification(_ row: HerdrRow) {
        let outcome = Outcome(termination: row.termination, stdout: captured(row.stdout))
        let inventory = HerdrBackend.classifyListing(outcome, program: "herdr", timeout: .seconds(3))
        if row.expect.isEmpty {
            guard case .unknown(let reason) = inventory else {
                Issue.record("expected unknown, got \(inventory)")
                return
            }
            #expect(reason.contains(row.reason), "\(reason)")
            return
        }
        for (name, state) in row.expect {
            #expect(inventory.probe(name).state == state, "\(name): \(inventory.probe(name))")
            #expect(HerdrBackend.classify(outcome, name: name).state == state)
        }
    }

    @Test func zombieReasonSaysSo() {
        let outcome = Outcome(termination: .exited(0), stdout: captured(rows))
        let answer = HerdrBackend.classify(outcome, name: "bmx-zzzz9999")
        #expect(answer.state == .missing)
        #expect(answer.reason.contains("running: false"))
    }

    @Test func truncatedOutputIsUnknown() {
        let outcome = Outcome(termination: .exited(0), stdout: captured(rows, truncated: true))
        guard case .unknown(let reason) = HerdrBackend.classifyListing(outcome) else {
            Issue.record("expected unknown")
            return
        }
        #expect(reason.contains("incomplete"))
    }

    // MARK: - Through fixture executables

    /// A fake herdr: `session list --json` prints `listing`; stop and delete exit 0.
    private func fakeHerdr(_ dir: TemporaryDirectory, listing: String) throws -> Fixture {
        try dir.write("listing", listing)
        return try Fixture(in: dir, name: "herdr", body: """
        case "$1 $2" in
        "session list") cat '\(dir.file("listing"))' ;;
        "session stop") echo '{"ok": true}' ;;
        "session delete") echo '{"ok": true}' ;;
        *) echo "unexpected $*" >&2; exit 2 ;;
        esac
        """)
    }

    private func backend(_ fixture: Fixture, retry: RetryPolicy = quickRetry()) -> HerdrBackend {
        HerdrBackend(configuration: HerdrConfiguration(executable: fixture.path, timeout: testTimeout, retry: retry, spawner: Spawner()))
    }

    @Test func probeListsAndMatchesExactly() async throws {
        let dir = try TemporaryDirectory()
        let fixture = try fakeHerdr(dir, listing: rows)
        let herdr = backend(fixture)
        #expect(await herdr.probe("bmx-aaaa1111").answer.state == .exists)
        #expect(await herdr.probe("bmx-aaaa").answer.state == .missing)
        let zombie = await herdr.probe("bmx-zzzz9999")
        #expect(zombie.answer.state == .missing)
        #expect(zombie.attempts == 1)
        #expect(herdr.probeSynchronously("bmx-aaaa1111").answer.state == .exists)
        guard case .live(let names, _) = await herdr.list().answer else {
            Issue.record("expected a live listing")
            return
        }
        #expect(names == ["bmx-aaaa1111"])
        #expect(fixture.calls.allSatisfy { $0 == "[session][list][--json]" })
        #expect(fixture.calls.count == 5)
    }

    @Test func probeAllUsesOneListing() async throws {
        let dir = try TemporaryDirectory()
        let fixture = try fakeHerdr(dir, listing: rows)
        let (_, answers) = await backend(fixture).probeAll(["bmx-aaaa1111", "bmx-zzzz9999", "bmx-x", ""])
        #expect(fixture.calls.count == 1)
        #expect(answers["bmx-aaaa1111"]?.state == .exists)
        #expect(answers["bmx-zzzz9999"]?.state == .missing)
        #expect(answers["bmx-x"]?.state == .missing)
        #expect(answers[""]?.state == .unknown)
    }

    @Test func killRunningSessionStopsThenDeletes() async throws {
        let dir = try TemporaryDirectory()
        let fixture = try fakeHerdr(dir, listing: rows)
        let result = await backend(fixture).kill("bmx-aaaa1111")
        #expect(result.status == .killed, "\(result)")
        #expect(fixture.calls == [
            "[session][list][--json]",
            "[session][stop][bmx-aaaa1111][--json]",
            "[session][delete][bmx-aaaa1111][--json]",
        ])
        #expect(result.reason == "herdr session stop exit 0; herdr session delete exit 0")
    }

    @Test func killZombieOnlyDeletes() async throws {
        let dir = try TemporaryDirectory()
        let fixture = try fakeHerdr(dir, listing: rows)
        let result = await backend(fixture).kill("bmx-zzzz9999")
        #expect(result.status == .killed, "\(result)")
        #expect(fixture.calls == ["[session][list][--json]", "[session][delete][bmx-zzzz9999][--json]"])
    }

    @Test func killAbsentSessionIsAlreadyGone() async throws {
        let dir = try TemporaryDirectory()
        let fixture = try fakeHerdr(dir, listing: rows)
        let result = await backend(fixture).kill("bmx-nope")
        #expect(result.status == .alreadyGone, "\(result)")
        #expect(fixture.calls == ["[session][list][--json]"])
    }

    @Test func invalidNamesAreNeverSent() async throws {
        let dir = try TemporaryDirectory()
        let fixture = try fakeHerdr(dir, listing: rows)
        let herdr = backend(fixture)
        for name in ["", "--json", "a\u{7F}b"] {
            #expect(await herdr.probe(name).attempts == 0, "\(name.debugDescription)")
            let killed = await herdr.kill(name)
            #expect(killed.status == .rejected)
            do { try herdr.validate(name) } catch { #expect(killed.reason == error.description) }
        }
        #expect(fixture.calls.isEmpty)
        #expect(throws: SessionNameError(code: .forbiddenFirstCharacter, name: "--json", backend: .herdr,
                                         detail: "it starts with '-', which herdr would read the name as an option")) {
            try herdr.validate("--json")
        }
        #expect(herdr.configuration.executable == fixture.path)
        #expect(HerdrConfiguration(spawner: Spawner()).executable == "herdr")
        #expect(herdr.kind == .herdr)
    }
}
