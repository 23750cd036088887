// Helpers for the store tests only: store errors, the store's temporary
// files, spawning real processes, and sample store documents. Temporary
// folders and reading and writing files are shared, in VigilTestSupport.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif // canImport(Glibc)
@testable import VigilStore
import VigilTestSupport

// MARK: - Files

/// Names in `folder` that look like a Vigil temporary file.
func temporaryFiles(in folder: String) -> [String] {
    folderNames(folder).filter { $0.contains(".vigil-tmp-") }
}

/// Whether the tests run with root's powers (chmod then does not stop writes).
var runningAsRoot: Bool { geteuid() == 0 }

// MARK: - Errors

/// The `StoreError` that `body` throws, or nil if it does not throw.
func storeError<T>(_ body: () throws(StoreError) -> T) -> StoreError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

// MARK: - Processes

/// A spawned child process.
struct Child {
    let pid: pid_t

    /// Spawns `arguments[0]` (absolute path) with `arguments` and extra
    /// environment entries; stdout and stderr are inherited, or go to
    /// /dev/null when `quiet`.
    static func spawn(_ arguments: [String], environment extra: [String] = [], quiet: Bool = false) throws -> Child {
        var pid: pid_t = 0
        var environment: [String] = extra
        var index = 0
        while let entry = environ[index] {
            environment.append(String(cString: entry))
            index += 1
        }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if quiet {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        let result = posix_spawn(&pid, arguments[0], &actions, nil, argv, envp)
        guard result == 0 else { throw TestFailure("posix_spawn \(arguments[0]): \(result)") }
        return Child(pid: pid)
    }

    /// Sends signal `number` to the child.
    func send(_ number: Int32) { _ = kill(pid, number) }

    /// Waits for the child and returns its raw wait status.
    @discardableResult
    func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        return status
    }
}

// MARK: - Sample documents

/// A store with three records, unknown members at several depths, awkward
/// numbers, escapes and non-ASCII text, laid out the way a daemon might
/// write it (pretty, 4-space indent, keys in the daemon's order).
let sampleStore = #"""
{
    "version": 1,
    "daemon": {"name": "chatd", "build": 12345678901234567890, "ratio": 1.0},
    "sessions": [
        {
            "meta": {"created": "2026-01-02T03:04:05Z", "tags": ["a", "b", {"deep": [1e400, -0.5E-3, null, true]}]},
            "id": "s1",
            "backend": "tmux",
            "status": "active",
            "socket": "vigil-test",
            "backendSession": "chat-s1",
            "title": "caf\u00e9 \ud83d\ude00 \"quoted\" back\\slash\ttab / \/",
            "raw": "naïve 日本語"
        },
        {"id": "s2", "backend": "zellij", "status": "active", "cliId": "claude", "z": 1.50, "a": [ ]},
        {"id": "s3", "backend": "pty", "status": "closed", "closedAt": "2025-12-31T23:59:59Z", "closeReason": "exited", "extra": {}}
    ],
    "trailer": [1, 2.0, "x"]
}
"""#

/// A larger document: `count` records of about 250 bytes with nested
/// unknown members.
func generatedStore(count: Int, status: String = "active") -> String {
    var text = #"{"version": 1, "sessions": ["#
    for index in 0..<count {
        if index > 0 { text += ",\n" }
        text += #"{"id":"session-\#(index)-7f3a9c","backend":"tmux","status":"\#(status)","backendSession":"chat-\#(index)","#
        text += #""socket":"vigil","cliId":"claude","meta":{"created":"2026-01-02T03:04:05Z","turns":\#(index % 97),"#
        text += #""model":{"name":"m-large","temperature":0.7,"tags":["a","b","c"]},"cwd":"/home/user/project-\#(index)"},"#
        text += #""title":"Session number \#(index) with a longer title"}"#
    }
    text += "]}"
    return text
}

// MARK: - Lock files

/// Sets the modification (and access) time of `path` to `seconds` ago.
func age(_ path: String, seconds: Int) throws {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    let then = timeval(tv_sec: now.tv_sec - seconds, tv_usec: 0)
    let times = [then, then]
    guard utimes(path, times) == 0 else { throw TestFailure("utimes \(path): errno \(errno)") }
}

/// Field 22 of /proc/<pid>/stat, read here independently of the code under test.
func startTime(of pid: pid_t) throws -> String {
    let text = try readText("/proc/\(pid)/stat")
    guard let close = text.lastIndex(of: ")") else { throw TestFailure("no ) in /proc/\(pid)/stat") }
    let fields = text[text.index(after: close)...].split(separator: " ")
    // fields[0] is field 3 (state), so field 22 is fields[19].
    return String(fields[19])
}

/// The kernel's boot id, lowercased.
func bootID() throws -> String {
    try readText("/proc/sys/kernel/random/boot_id").split(separator: "\n").first.map { String($0).lowercased() } ?? ""
}

/// A pid that no process has: a child that already exited and was reaped.
func deadPID() throws -> pid_t {
    let child = try Child.spawn(["/bin/sh", "-c", "exit 0"])
    child.wait()
    return child.pid
}

/// Names in `folder` that belong to a lock protocol: the lock itself and
/// botmux's stale-claim, owner and candidate files.
func lockProtocolFiles(in folder: String) -> [String] {
    folderNames(folder).filter { $0.hasSuffix(".lock") || $0.hasPrefix(".botmux-stale-claim-") }
}

/// The payload botmux writes for a holder.
func botmuxPayload(pid: pid_t, processStart: String?, bootID: String?) -> String {
    var text = "{\"pid\":\(pid)"
    if let processStart { text += ",\"procStart\":\"\(processStart)\"" }
    if let bootID { text += ",\"bootId\":\"\(bootID)\"" }
    return text + "}"
}
