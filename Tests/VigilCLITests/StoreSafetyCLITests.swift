#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing
import VigilCore
import VigilStore
import VigilTestSupport

/// What `vigil restore` refuses and what it keeps, run as a user runs it:
/// ids that cannot name one session, links planted at the lock path, hard
/// links, and every byte of the document it did not change.
@Suite("vigil restore: store safety", .timeLimit(.minutes(3)))
struct StoreSafetyCLITests {
    /// Exit status 65, one line naming the records, the file as it was and
    /// nothing beside it.
    @Test("an empty or duplicate id is refused with 65, naming the records; nothing written", arguments: [
        ("{\"version\": 1, \"sessions\": [\n  {\"id\": \"aaaaaaaa-1\", \"backend\": \"tmux\", \"status\": \"active\"},\n  {\"id\": \"\", \"backend\": \"tmux\", \"status\": \"active\"}\n]}\n",
         "sessions[1] (line 3, column 3): \"id\" is empty"),
        ("{\"version\": 1, \"sessions\": [\n  {\"id\": \"aaaaaaaa-1\", \"backend\": \"tmux\", \"status\": \"active\"},\n  {\"id\": \"bbbbbbbb-2\", \"backend\": \"pty\", \"status\": \"active\"},\n  {\"id\": \"aaaaaaaa-1\", \"backend\": \"zellij\", \"status\": \"active\"}\n]}\n",
         "duplicate id \"aaaaaaaa-1\": sessions[0] (line 2, column 3) and sessions[2] (line 4, column 3)"),
    ])
    func badIDs(document: String, message: String) throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("store.json", document)
        for lockProtocol in StoreLockProtocol.allCases {
            let o = VigilBinary.run(["restore", "--store", path, "--lock", lockProtocol.rawValue, "--quiet"])
            #expect(o.termination == .exited(65))
            #expect(o.stderr.text == "Error: store \(path): \(message)\n")
            #expect(try readText(path) == document)
            #expect(folderNames(dir.path) == ["store.json"], "nothing left behind")
        }
    }

    @Test("--create through a dangling symlink is refused and leaves no lock file", arguments: StoreLockProtocol.allCases)
    func createThroughDanglingSymlink(_ lockProtocol: StoreLockProtocol) throws {
        let dir = try TemporaryDirectory()
        let link = dir.file("store.json")
        #expect(symlink(dir.file("elsewhere/real.json"), link) == 0)
        let o = VigilBinary.run(["restore", "--store", link, "--create", "--lock", lockProtocol.rawValue])
        #expect(o.termination == .exited(66))
        #expect(o.stderr.text.hasPrefix("Error: store \(link): is a symlink to a file that does not exist"))
        #expect(folderNames(dir.path) == ["store.json"], "no store.json.lock behind")
        #expect(isSymbolicLink(link))
    }

    @Test("--create makes a 0600 store and, with exclusive-create, no lock file")
    func createMakesAPrivateStore() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("store.json")
        let o = VigilBinary.run(["restore", "--store", path, "--create", "--lock", "exclusive-create"])
        #expect(o.termination == .exited(0), "\(o.stderr.text)")
        #expect(permissions(path) == 0o600)
        #expect(folderNames(dir.path) == ["store.json"])
    }

    @Test("a symlink planted at the lock path is refused with 73, naming it, and not followed", arguments: StoreLockProtocol.allCases)
    func lockPathSymlink(_ lockProtocol: StoreLockProtocol) throws {
        let dir = try TemporaryDirectory()
        let server = TmuxServer(label: "lock-link")
        let text = "{\"version\": 1, \"sessions\": [{\"id\": \"aaaaaaaa-1\", \"backend\": \"tmux\", \"status\": \"active\", \"socket\": \"\(server.socketName)\"}]}\n"
        let path = try dir.write("store.json", text)
        let victim = try dir.write("victim", "do not touch\n", mode: 0o600)
        #expect(symlink(victim, path + ".lock") == 0)
        let o = VigilBinary.run(["restore", "--store", path, "--lock", lockProtocol.rawValue, "--quiet"])
        #expect(o.termination == .exited(73))
        #expect(o.stderr.text == "Error: store \(path): lock file \(path).lock is a symbolic link; refusing to follow it\n")
        #expect(try readText(victim) == "do not touch\n")
        #expect(try readText(path) == text)
        #expect(permissions(victim) == 0o600)
    }

    @Test("every byte restore did not change stays in place: members before \"sessions\", spacing, numbers, no final newline")
    func untouchedBytesStay() throws {
        let dir = try TemporaryDirectory()
        let server = TmuxServer(label: "bytes")
        try server.createSession("bmx-aaaaaaaa")
        let s = server.socketName
        let alive = "{\"id\": \"aaaaaaaa-1\",\"backend\":\"tmux\", \"status\": \"active\", \"socket\": \"\(s)\", \"n\": 1.50}"
        let gone = "{ \"id\": \"bbbbbbbb-2\", \"backend\": \"tmux\", \"status\": \"active\", \"socket\": \"\(s)\", \"n\": 2E3 }"
        let before = "{\n\t\"daemon\": {\"v\": \"7.1\",   \"x\": [1.0, -0]},\n\t\"version\": 1.0,\n\t\"sessions\": [\n\t\t\(alive),\n\t\t"
        let after = "\n\t],\n\t\"tail\": null\n}"
        let path = try dir.write("store.json", before + gone + after)
        let o = VigilBinary.run(["restore", "--store", path, "--quiet"])
        #expect(o.termination == .exited(0), "\(o.stderr.text)")
        let written = try readText(path)
        #expect(written.hasPrefix(before))
        #expect(written.hasSuffix(after))
        let record = String(written.dropFirst(before.count).dropLast(after.count))
        #expect(record.hasPrefix("{ \"id\": \"bbbbbbbb-2\", \"backend\": \"tmux\", \"status\": \"closed\", \"socket\": \"\(s)\", \"n\": 2E3,\"closedAt\":\""))
        #expect(record.hasSuffix("\" }"))
        #expect(try StoreFile(path: path).load().records.map(\.status) == [.active, .closed])
    }

    @Test("a store with another hard link is committed with a notice, or refused with --strict-links")
    func hardLinks() throws {
        let dir = try TemporaryDirectory()
        let server = TmuxServer(label: "links")
        let text = "{\"version\": 1, \"sessions\": [{\"id\": \"aaaaaaaa-1\", \"backend\": \"tmux\", \"status\": \"active\", \"socket\": \"\(server.socketName)\"}]}\n"
        let path = try dir.write("store.json", text)
        let other = dir.file("store.backup.json")
        #expect(link(path, other) == 0)

        let strict = VigilBinary.run(["restore", "--store", path, "--strict-links"])
        #expect(strict.termination == .exited(73))
        #expect(strict.stderr.text == "Error: store \(path): has 1 other hard link, which a rewrite would leave on the previous version; refusing (--strict-links)\n")
        #expect(try readText(path) == text)

        let o = VigilBinary.run(["restore", "--store", path, "--quiet"])
        #expect(o.termination == .exited(0))
        #expect(o.stderr.text.contains("vigil: info: store \(path) had 1 other hard link; it still points at the previous version"), "\(o.stderr.text)")
        #expect(try readText(other) == text)
        #expect(try StoreFile(path: path).load().records[0].status == .closed)
    }
}
