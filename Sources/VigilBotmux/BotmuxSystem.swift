// The few system calls the botmux reader makes itself (file contents go
// through VigilStore's `StoreFile.readBytes`): what kind of thing a path is,
// a folder's names, the working and home directories, and the wall clock.
// The EINTR retry and the folder listing are VigilSystem's.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif // canImport(Glibc)
import VigilSystem

/// What a path names, as `lstat` (or `stat`, following links) sees it.
enum PathKind: Sendable, Equatable {
    case missing
    case regularFile(size: Int)
    case directory
    case symbolicLink
    case other
}

enum BotmuxSystem {
    /// The kind of `path`; `followLinks` uses stat(2), else lstat(2). Any
    /// error other than "no such file" reads as `.other` (it exists but
    /// cannot be used), except ENOTDIR, which means a path component is a
    /// file and so nothing is there.
    static func kind(of path: String, followLinks: Bool) -> PathKind {
        var info = stat()
        if case .failure(let error) = valueOrErrno({ followLinks ? stat(path, &info) : lstat(path, &info) }) {
            return error == .noSuchFile || error == .notDirectory ? .missing : .other
        }
        switch UInt32(info.st_mode) & UInt32(S_IFMT) {
        case UInt32(S_IFREG): return .regularFile(size: Int(info.st_size))
        case UInt32(S_IFDIR): return .directory
        case UInt32(S_IFLNK): return .symbolicLink
        default: return .other
        }
    }

    /// The names in folder `path`, without "." and "..", sorted so every run
    /// visits the stores in the same order; the failure is `opendir`'s errno.
    static func listFolder(_ path: String) -> Result<[String], Errno> {
        system_listFolder(path).map { $0.sorted() }
    }

    /// The process's working directory, or "/" if it cannot be read.
    static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "/" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The home directory of the real user from the password database.
    static func passwordHome() -> String? {
        guard let entry = getpwuid(getuid()), let dir = entry.pointee.pw_dir else { return nil }
        let home = String(cString: dir)
        return home.isEmpty ? nil : home
    }

    /// Milliseconds since the epoch, from CLOCK_REALTIME (what JavaScript's
    /// `Date.now()` reads, so heartbeat ages compare like botmux's).
    static func nowMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }
}
