#if canImport(Glibc)
public import Glibc
#elseif canImport(Darwin)
public import Darwin
#endif
public import VigilCore

/// A real temporary directory, removed (recursively) when the scope ends.
public final class TemporaryDirectory {
    public let path: String

    public init(_ label: String = "vigil-core") {
        var template = Array("/tmp/\(label)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit { removeTree(path) }

    /// Writes an executable fixture (mode 0755 unless given) and returns its path.
    @discardableResult
    public func fixture(_ name: String, _ body: String, mode: mode_t = 0o755) -> String {
        let file = "\(path)/\(name)"
        write(file, body)
        chmod(file, mode)
        return file
    }

    public func write(_ file: String, _ body: String) {
        let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        precondition(fd >= 0, "open \(file) failed")
        var bytes = Array(body.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
            precondition(n > 0)
            off += n
        }
        close(fd)
    }

    public func read(_ file: String) -> String? {
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = Glibc.read(fd, &chunk, chunk.count)
            if n <= 0 { break }
            out += chunk[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Removes a directory tree without a shell.
public func removeTree(_ path: String) {
    guard let dir = opendir(path) else { unlink(path); return }
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
        }
        if name == "." || name == ".." { continue }
        let child = "\(path)/\(name)"
        var st = stat()
        if lstat(child, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR { removeTree(child) } else { unlink(child) }
    }
    closedir(dir)
    rmdir(path)
}

/// The four ways to run a command: synchronous or async, pidfd or portable wait.
public enum RunMode: String, CaseIterable, Sendable {
    case syncPidfd, syncPortable, asyncPidfd, asyncPortable

    public var strategy: WaitStrategy {
        switch self {
        case .syncPidfd, .asyncPidfd: return .pidfd
        case .syncPortable, .asyncPortable: return .portable
        }
    }

    public func run(_ command: Command, spawner: Spawner? = nil) async -> Outcome {
        var s = spawner ?? Spawner()
        s.waitStrategy = strategy
        switch self {
        case .syncPidfd, .syncPortable: return s.runSynchronously(command)
        case .asyncPidfd, .asyncPortable: return await s.run(command)
        }
    }
}

/// `/bin/sh -c SCRIPT` as a command (fixtures only; production code never uses a shell).
public func shell(_ script: String, timeout: Duration? = .seconds(20)) -> Command {
    Command("/bin/sh", arguments: ["-c", script], timeout: timeout)
}

/// Number of open descriptors in this process.
public func openDescriptorCount() -> Int {
    guard let dir = opendir("/proc/self/fd") else { return -1 }
    defer { closedir(dir) }
    var n = 0
    while readdir(dir) != nil { n += 1 }
    return n - 3 // ".", "..", and the directory's own descriptor
}

/// Whether `pid` is still a process that is not a zombie.
public func isRunning(_ pid: Int32) -> Bool {
    guard let state = processState(pid) else { return false }
    return state != "Z" && state != "X"
}

/// The state letter from /proc/PID/stat, nil when the process is gone.
public func processState(_ pid: Int32) -> Character? {
    let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buf = [UInt8](repeating: 0, count: 512)
    let n = read(fd, &buf, buf.count)
    guard n > 0 else { return nil }
    let text = String(decoding: buf[0..<n], as: UTF8.self)
    guard let close = text.lastIndex(of: ")") else { return nil }
    let rest = text[text.index(after: close)...].drop(while: { $0 == " " })
    return rest.first
}

/// The parent pid from /proc/PID/stat.
public func parentPID(_ pid: Int32) -> Int32? {
    let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buf = [UInt8](repeating: 0, count: 512)
    let n = read(fd, &buf, buf.count)
    guard n > 0 else { return nil }
    let text = String(decoding: buf[0..<n], as: UTF8.self)
    guard let close = text.lastIndex(of: ")") else { return nil }
    let fields = text[text.index(after: close)...].split(separator: " ")
    return fields.count > 1 ? Int32(fields[1]) : nil
}

/// True when `pid` is an unreaped child of this process (a zombie we leaked).
public func isOurZombie(_ pid: Int32) -> Bool {
    processState(pid) == "Z" && parentPID(pid) == getpid()
}

/// Sleeps the calling thread.
public func pause(milliseconds: Int) {
    usleep(UInt32(milliseconds * 1000))
}
