// Helpers for the store tests: real temporary folders, file bytes and modes,
// spawning real processes, and a sample store document.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif // canImport(Glibc)
import Testing
@testable import VigilStore

// MARK: - Temporary folders

/// Runs `body` with a fresh folder from mkdtemp and removes it afterwards,
/// whatever permissions or immutable flags the test left on it.
func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    var template = Array("/tmp/vigil-store-test-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else {
        throw TestFailure("mkdtemp failed: errno \(errno)")
    }
    let path = String(cString: made)
    defer { removeTree(path) }
    return try body(path)
}

/// Removes a file or folder tree (best effort), restoring write permission on
/// folders first so a test that chmod'ed one to 0555 still cleans up.
func removeTree(_ path: String) {
    var info = stat()
    guard lstat(path, &info) == 0 else { return }
    if UInt32(info.st_mode) & 0o170000 == 0o040000 {
        chmod(path, 0o700)
        if let dir = opendir(path) {
            var names: [String] = []
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) {
                    String(cString: $0.baseAddress!.assumingMemoryBound(to: CChar.self))
                }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(dir)
            for name in names { removeTree(path + "/" + name) }
        }
        rmdir(path)
    } else {
        unlink(path)
    }
}

/// A test-side error with a message.
struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

// MARK: - Files

/// Writes `bytes` to `path` (created or truncated) with `mode`.
func writeFile(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    guard fd >= 0 else { throw TestFailure("open \(path): errno \(errno)") }
    defer { close(fd) }
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    guard written == bytes.count else { throw TestFailure("write \(path): errno \(errno)") }
    fchmod(fd, mode)
}

/// Writes text to `path`.
func writeFile(_ path: String, _ text: String, mode: mode_t = 0o644) throws {
    try writeFile(path, Array(text.utf8), mode: mode)
}

/// The bytes of `path`.
func readFile(_ path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw TestFailure("open \(path): errno \(errno)") }
    defer { close(fd) }
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count >= 0 else { throw TestFailure("read \(path): errno \(errno)") }
        if count == 0 { return result }
        result += chunk[..<count]
    }
}

/// The text of `path`.
func readText(_ path: String) throws -> String {
    String(decoding: try readFile(path), as: UTF8.self)
}

/// `lstat` of `path`, or nil.
func fileStatus(_ path: String) -> stat? {
    var info = stat()
    return lstat(path, &info) == 0 ? info : nil
}

/// Permission bits of `path`.
func permissions(_ path: String) -> UInt32? {
    fileStatus(path).map { UInt32($0.st_mode) & 0o7777 }
}

/// Whether `path` is a symbolic link.
func isSymbolicLink(_ path: String) -> Bool {
    fileStatus(path).map { UInt32($0.st_mode) & 0o170000 == 0o120000 } ?? false
}

/// Names in folder `path`.
func folderNames(_ path: String) -> [String] {
    guard let dir = opendir(path) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) {
            String(cString: $0.baseAddress!.assumingMemoryBound(to: CChar.self))
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}

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

/// Sleeps for `milliseconds`.
func sleep(milliseconds: Int) {
    var request = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
    var remaining = timespec()
    while nanosleep(&request, &remaining) == -1 && errno == EINTR { request = remaining }
}

/// Polls `condition` every 10 ms for up to `milliseconds`.
func waitUntil(milliseconds: Int, _ condition: () -> Bool) -> Bool {
    var waited = 0
    while waited < milliseconds {
        if condition() { return true }
        sleep(milliseconds: 10)
        waited += 10
    }
    return condition()
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
