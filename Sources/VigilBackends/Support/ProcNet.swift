// Reading /proc without Foundation: the unix socket table, and the process
// that holds a socket. Only tmux's "no server" answers come here. The EINTR
// retry and the folder listing are VigilSystem's.
#if os(Linux)
import Glibc
import VigilCore
import VigilSystem

enum ProcNet {
    /// `/proc/net/unix` of this process's network namespace, parsed.
    static func readUnixTable(path: String = "/proc/net/unix") -> Result<UnixSocketTable, UnixSocketSourceError> {
        switch readWhole(path) {
        case .failure(let failure):
            return .failure(UnixSocketSourceError(reason: "\(path) cannot be read (\(failure.errno))"))
        case .success(let bytes):
            guard let table = UnixSocketTable.parse(bytes) else {
                return .failure(UnixSocketSourceError(reason: "\(path) is not in the expected format"))
            }
            return .success(table)
        }
    }

    /// The whole file, read in chunks with `read(2)` (procfs files have no size).
    static func readWhole(_ path: String, limit: Int = 256 << 20) -> Result<[UInt8], ReadFailure> {
        let fd: Int32
        switch system_open(path, O_RDONLY) {
        case .success(let opened): fd = opened
        case .failure(let error): return .failure(ReadFailure(errno: error))
        }
        defer { system_close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while bytes.count < limit {
            switch chunk.withUnsafeMutableBytes({ raw in valueOrErrno { read(fd, raw.baseAddress, raw.count) } }) {
            case .failure(let error): return .failure(ReadFailure(errno: error))
            case .success(0): return .success(bytes)
            case .success(let n): bytes.append(contentsOf: chunk[..<n])
            }
        }
        return .failure(ReadFailure(errno: Errno(rawValue: EFBIG)))
    }

    /// Why a file could not be read.
    struct ReadFailure: Error {
        let errno: Errno
    }

    /// The pid of a process of this user whose command name starts with
    /// `tmux` and that holds socket `inode` (`/proc/PID/fd/N -> socket:[INODE]`);
    /// `nil` when none is found. Best effort: only for the recovery hint.
    static func socketOwner(inode: UInt64) -> Int32? {
        let target = "socket:[\(inode)]"
        let me = getuid()
        guard case .success(let names) = system_listFolder("/proc") else { return nil }
        for name in names {
            guard let pid = Int32(name), pid > 0 else { continue }
            var info = stat()
            guard stat("/proc/\(name)", &info) == 0, info.st_uid == me else { continue }
            guard case .success(let comm) = readWhole("/proc/\(name)/comm", limit: 256),
                  comm.starts(with: Array("tmux".utf8)) else { continue }
            if holds(pid: name, target) { return pid }
        }
        return nil
    }

    private static func holds(pid: String, _ target: String) -> Bool {
        let dir = "/proc/\(pid)/fd"
        guard case .success(let fds) = system_listFolder(dir) else { return false }
        var buffer = [CChar](repeating: 0, count: 64)
        for fd in fds {
            let n = readlink("\(dir)/\(fd)", &buffer, buffer.count - 1)
            guard n > 0 else { continue }
            let link = String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if link == target { return true }
        }
        return false
    }
}
#else
enum ProcNet {
    /// No procfs on this platform: a "no server" answer cannot be confirmed.
    static func readUnixTable() -> Result<UnixSocketTable, UnixSocketSourceError> {
        .failure(UnixSocketSourceError(reason: "no /proc/net/unix on this platform"))
    }

    static func socketOwner(inode: UInt64) -> Int32? { nil }
}
#endif // os(Linux)
