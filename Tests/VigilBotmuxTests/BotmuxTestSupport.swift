// Helpers for the botmux tests: Node (the reference for JSON.stringify),
// the checked-in fixtures, and a real botmux data directory in a temporary
// folder.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif // canImport(Glibc)
import VigilCore
import VigilJSON
@testable import VigilBotmux
import VigilStore
import VigilTestSupport

// MARK: - Node

/// Node, when it is installed: the reference for `JSON.parse` and
/// `JSON.stringify`. Tests that need it are skipped without it; the
/// checked-in fixtures (made by Fixtures/make-fixtures.js) cover the writer
/// then. CI installs it (see the README).
enum Node {
    /// The `node` executable on PATH, if any.
    static let path: String? = {
        // VIGIL_TEST_NO_NODE=1 runs the suite as on a machine without node.
        if Environment.inherit.value(of: "VIGIL_TEST_NO_NODE") == "1" { return nil }
        let search = Environment.inherit.value(of: "PATH") ?? "/usr/local/bin:/usr/bin:/bin"
        for folder in search.split(separator: ":") where access("\(folder)/node", X_OK) == 0 {
            return "\(folder)/node"
        }
        return nil
    }()

    static var available: Bool { path != nil }

    /// Runs `node -e SCRIPT ARGS...` in `directory`; stdout on success. Waits
    /// on the spawner's reactor: no thread of the cooperative pool is held.
    static func run(_ script: String, _ args: [String] = [], in directory: String? = nil) async throws -> String {
        guard let path else { throw TestFailure("node is not installed") }
        var command = Command(path, arguments: ["-e", script] + args, timeout: .seconds(120))
        command.workingDirectory = directory
        command.stdoutLimit = 64 << 20
        let outcome = await Spawner().run(command)
        guard outcome.termination == .exited(0) else {
            throw TestFailure("node failed: \(outcome.termination) \(outcome.stderr.text)")
        }
        return outcome.stdout.text
    }
}

// MARK: - Fixtures

/// The folder of the checked-in fixtures, next to this file.
func fixturePath(_ name: String, file: String = #filePath) -> String {
    let folder = file[..<file.lastIndex(of: "/")!]
    return "\(folder)/Fixtures/\(name)"
}

/// The bytes of a checked-in fixture.
func fixture(_ name: String) throws -> [UInt8] {
    try readFile(fixturePath(name))
}

/// What Vigil's writer makes of `bytes` after closing `ids` at `timestamp`.
func closing(_ ids: [String], in bytes: [UInt8], at timestamp: String) throws -> [UInt8] {
    let store = try BotmuxStore(parsing: bytes, path: "<test>")
    var edits: [[UInt8]: BotmuxEdit] = [:]
    for id in ids {
        guard let record = store.records.first(where: { $0.id == id }) else { throw TestFailure("no record \(id)") }
        edits[record.key] = BotmuxDecision.closeEdit(at: timestamp)
    }
    return store.serialized(applying: edits)
}

/// A readable difference: the first differing line of two documents.
func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> String {
    let left = String(decoding: a, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
    let right = String(decoding: b, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
    for index in 0..<max(left.count, right.count) {
        let l = index < left.count ? String(left[index]) : "<end>"
        let r = index < right.count ? String(right[index]) : "<end>"
        if l != r { return "line \(index + 1): \(l.debugDescription) vs \(r.debugDescription)" }
    }
    return a == b ? "identical" : "same lines, different bytes (\(a.count) vs \(b.count))"
}

/// The `StoreError` that `body` throws, or nil (also for any other error).
func storeError<T>(_ body: () throws -> T) -> StoreError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error as? StoreError
    }
}
