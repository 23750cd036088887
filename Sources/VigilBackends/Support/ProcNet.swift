// Reading /proc without Foundation: the unix socket table, and the process
// that holds a socket. Only tmux's "no server" answers come here.
#if os(Linux)
import Glibc
import VigilCore

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
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(ReadFailure(errno: Errno(rawValue: errno))) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while bytes.count < limit {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(ReadFailure(errno: Errno(rawValue: errno)))
            }
            if n == 0 { return .success(bytes) }
            bytes.append(contentsOf: chunk[..<n])
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
        guard let proc = opendir("/proc") else { return nil }
        defer { closedir(proc) }
        while let entry = readdir(proc) {
            let name = entryName(entry)
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
        guard let fds = opendir(dir) else { return false }
        defer { closedir(fds) }
        var buffer = [CChar](repeating: 0, count: 64)
        while let entry = readdir(fds) {
            let fd = entryName(entry)
            if fd.first == "." { continue }
            let n = readlink("\(dir)/\(fd)", &buffer, buffer.count - 1)
            guard n > 0 else { continue }
            let link = String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if link == target { return true }
        }
        return false
    }

    private static func entryName(_ entry: UnsafeMutablePointer<dirent>) -> String {
        withUnsafeBytes(of: entry.pointee.d_name) {
            String(cString: $0.baseAddress!.assumingMemoryBound(to: CChar.self))
        }
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
