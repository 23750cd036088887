// Helpers every test target shares: real temporary folders, files written and
// read without Foundation, and fixture executables that can be run the moment
// they are written. Waiting for something to appear is in Waiting.swift.
//
// Fixtures are `#!/bin/sh` scripts: a shell is fine in test fixtures (they
// stand in for tmux, zellij, herdr and workers); production code never runs one.
#if canImport(Glibc)
public import Glibc
#elseif canImport(Darwin)
public import Darwin
#endif // canImport(Glibc)
import Synchronization
import VigilCore

// MARK: - Failures and names

/// A failure a helper throws where it cannot record an expectation.
public struct TestFailure: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) { self.description = description }
}

/// Numbers the private sockets and folders of one test run.
private let testCounter = Atomic<Int>(0)

/// `<pid>-<n>`: unique within this process, so concurrent tests (and
/// concurrent test runs) never share a socket or a folder name.
public func nextTestID() -> String {
    "\(getpid())-\(testCounter.add(1, ordering: .relaxed).newValue)"
}

// MARK: - Temporary folders

/// A fresh folder under /tmp, removed with everything in it (see `removeTree`)
/// when the last reference goes away.
public final class TemporaryDirectory: Sendable {
    /// The folder's absolute path.
    public let path: String

    /// Makes the folder with mkdtemp.
    /// - Parameter label: the start of its name, to tell suites apart in /tmp.
    /// - Throws: `TestFailure` when mkdtemp fails.
    public init(_ label: String = "vigil-test") throws {
        var template = Array("/tmp/\(label)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else { throw TestFailure("mkdtemp /tmp/\(label)-XXXXXX: errno \(errno)") }
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit { removeTree(path) }

    /// `path/name`.
    public func file(_ name: String) -> String { path + "/" + name }

    /// Writes `text` to `name` (created or truncated) with `mode`.
    /// - Returns: the file's path.
    @discardableResult
    public func write(_ name: String, _ text: String, mode: mode_t = 0o644) throws -> String {
        let target = file(name)
        try writeFile(target, text, mode: mode)
        return target
    }

    /// Writes a fixture executable that can be run at once (see `writeExecutable`).
    /// - Returns: the fixture's path.
    @discardableResult
    public func fixture(_ name: String, _ script: String, mode: mode_t = 0o755) throws -> String {
        let target = file(name)
        try writeExecutable(target, script, mode: mode)
        return target
    }

    /// The text of `name`, or `nil` when it cannot be read (it does not exist).
    public func read(_ name: String) -> String? { try? readText(file(name)) }

    /// The lines of `name` (none when it does not exist).
    public func lines(_ name: String) -> [String] {
        (read(name) ?? "").split(separator: "\n").map(String.init)
    }

    /// Makes folder `name` with `mode` (chmod after mkdir, so the umask does not narrow it).
    /// - Returns: the folder's path.
    @discardableResult
    public func makeDirectory(_ name: String, mode: mode_t = 0o700) throws -> String {
        let target = file(name)
        guard mkdir(target, 0o700) == 0, chmod(target, mode) == 0 else {
            throw TestFailure("mkdir \(target): errno \(errno)")
        }
        return target
    }
}

/// Runs `body` with the path of a fresh temporary folder and removes the
/// folder when `body` returns or throws.
public func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let directory = try TemporaryDirectory()
    return try withExtendedLifetime(directory) { try body(directory.path) }
}

/// Removes a file or a folder tree (best effort, no shell), restoring write
/// permission on each folder first so a test that chmod'ed one to 0555 still
/// cleans up.
public func removeTree(_ path: String) {
    guard let info = fileStatus(path) else { return }
    guard UInt32(info.st_mode) & UInt32(S_IFMT) == UInt32(S_IFDIR) else {
        unlink(path)
        return
    }
    chmod(path, 0o700)
    for name in folderNames(path) { removeTree(path + "/" + name) }
    rmdir(path)
}

// MARK: - Files

/// Writes `bytes` to `path` (created or truncated) with exactly `mode`.
/// - Throws: `TestFailure` with the errno of the step that failed.
public func writeFile(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws {
    // O_CLOEXEC keeps the descriptor out of what a concurrent test spawns
    // (past its exec; see `writeExecutable` for the moment before).
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    guard fd >= 0 else { throw TestFailure("open \(path): errno \(errno)") }
    defer { close(fd) }
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            let code = errno
            if code == EINTR { continue }
            throw TestFailure("write \(path): errno \(code)")
        }
        offset += n
    }
    // fchmod: the umask would narrow a new file's mode, and an existing file keeps its old one.
    guard fchmod(fd, mode) == 0 else { throw TestFailure("fchmod \(path): errno \(errno)") }
}

/// Writes `text` to `path` (created or truncated) with exactly `mode`.
public func writeFile(_ path: String, _ text: String, mode: mode_t = 0o644) throws {
    try writeFile(path, Array(text.utf8), mode: mode)
}

/// Writes an executable `script` to `path` with `mode` so that it can be run
/// at once, even while other tests spawn children concurrently.
///
/// exec fails with ETXTBSY while any process holds the file open for writing.
/// A child that a concurrent test is spawning holds a copy of every
/// descriptor of this process from its clone until its exec (O_CLOEXEC only
/// closes them at the exec), so a file we wrote ourselves can stay busy after
/// our own close. Writing to a temporary name and renaming it into place does
/// not help: busy belongs to the inode, and rename keeps the inode. So the
/// script goes to a staging file, and `/bin/cp`, a process of its own that
/// nothing clones, writes the file that will run; once cp has exited no
/// writer of it is left anywhere.
///
/// - Throws: `TestFailure` when a write, the copy or the chmod fails.
public func writeExecutable(_ path: String, _ script: String, mode: mode_t = 0o755) throws {
    let staging = path + ".staging-\(nextTestID())"
    try writeFile(staging, script)
    defer { unlink(staging) }
    let copy = Spawner().runSynchronously(
        Command("/bin/cp", arguments: [staging, path], timeout: .seconds(20))
    )
    guard copy.termination == .exited(0) else {
        throw TestFailure("cp \(staging) \(path): \(copy.failureReason(program: "cp", timeout: .seconds(20)))")
    }
    guard chmod(path, mode) == 0 else { throw TestFailure("chmod \(path): errno \(errno)") }
}

/// The bytes of `path`.
/// - Throws: `TestFailure` when it cannot be opened or read.
public func readFile(_ path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw TestFailure("open \(path): errno \(errno)") }
    defer { close(fd) }
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count < 0 {
            let code = errno
            if code == EINTR { continue }
            throw TestFailure("read \(path): errno \(code)")
        }
        if count == 0 { return result }
        result += chunk[..<count]
    }
}

/// The text of `path`.
/// - Throws: `TestFailure` when it cannot be opened or read.
public func readText(_ path: String) throws -> String {
    String(decoding: try readFile(path), as: UTF8.self)
}

/// `lstat` of `path`, or `nil` when there is nothing there.
public func fileStatus(_ path: String) -> stat? {
    var info = stat()
    return lstat(path, &info) == 0 ? info : nil
}

/// The permission bits of `path`.
public func permissions(_ path: String) -> UInt32? {
    fileStatus(path).map { UInt32($0.st_mode) & 0o7777 }
}

/// Whether `path` is a symbolic link.
public func isSymbolicLink(_ path: String) -> Bool {
    fileStatus(path).map { UInt32($0.st_mode) & UInt32(S_IFMT) == UInt32(S_IFLNK) } ?? false
}

/// The names in folder `path` without `.` and `..`, sorted; none when it cannot be opened.
public func folderNames(_ path: String) -> [String] {
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
