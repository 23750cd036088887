// The store's own system calls, on top of VigilSystem (which holds `Errno`,
// `valueOrErrno`, open, close, write-all, sleep and the folder listing): each
// retries EINTR, reads errno immediately after the failing call, and hands
// back a typed `Errno` so the callers in StoreFile and StoreLock can turn it
// into a `StoreError` with the path and the operation that failed.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif // canImport(Glibc)
import VigilSystem

// MARK: - Wrappers

/// `fstat(2)`.
func system_fstat(_ fd: Int32) -> Result<stat, Errno> {
    var info = stat()
    return valueOrErrno { fstat(fd, &info) }.map { _ in info }
}

/// `stat(2)` (follows symbolic links).
func system_stat(_ path: String) -> Result<stat, Errno> {
    var info = stat()
    return valueOrErrno { stat(path, &info) }.map { _ in info }
}

/// `lstat(2)` (does not follow a final symbolic link).
func system_lstat(_ path: String) -> Result<stat, Errno> {
    var info = stat()
    return valueOrErrno { lstat(path, &info) }.map { _ in info }
}

/// `read(2)` into `buffer`; returns the byte count, 0 at end of file.
func system_read(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> {
    valueOrErrno { read(fd, buffer.baseAddress, buffer.count) }
}

/// `pread(2)` into `buffer` from `offset`; returns the byte count, 0 at end of file.
func system_pread(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, at offset: Int) -> Result<Int, Errno> {
    valueOrErrno { pread(fd, buffer.baseAddress, buffer.count, off_t(offset)) }
}

/// `lseek(2)` to `offset` from the start.
func system_seek(_ fd: Int32, to offset: Int) -> Result<Void, Errno> {
    valueOrErrno { lseek(fd, off_t(offset), SEEK_SET) }.map { _ in () }
}

/// `mmap(2)` of `length` bytes of private anonymous read-write memory;
/// nil when it fails.
func system_mapAnonymous(_ length: Int) -> UnsafeMutableRawPointer? {
    guard let base = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), base != MAP_FAILED else {
        return nil
    }
    return base
}

/// `munmap(2)` of a mapping `system_mapAnonymous` made.
func system_unmap(_ mapping: UnsafeMutableRawBufferPointer) {
    _ = munmap(mapping.baseAddress, mapping.count)
}

/// `madvise(MADV_HUGEPAGE)`: a hint only (EINVAL where transparent huge
/// pages are not built in), so its answer is not looked at; nothing on
/// systems without it.
func system_adviseHugePages(_ start: UnsafeMutableRawPointer, _ length: Int) {
    #if os(Linux)
    _ = madvise(start, length, MADV_HUGEPAGE)
    #endif
}

/// `fsync(2)`.
func system_fsync(_ fd: Int32) -> Result<Void, Errno> {
    valueOrErrno { fsync(fd) }.map { _ in () }
}

/// `fchmod(2)`.
func system_fchmod(_ fd: Int32, _ mode: UInt32) -> Result<Void, Errno> {
    valueOrErrno { fchmod(fd, mode_t(mode)) }.map { _ in () }
}

/// `fchown(2)`.
func system_fchown(_ fd: Int32, _ owner: uid_t, _ group: gid_t) -> Result<Void, Errno> {
    valueOrErrno { fchown(fd, owner, group) }.map { _ in () }
}

/// `rename(2)`: atomic replacement of `to` within one file system.
func system_rename(_ from: String, _ to: String) -> Result<Void, Errno> {
    valueOrErrno { rename(from, to) }.map { _ in () }
}

/// `link(2)`: atomic "create `to` only if it does not exist yet".
func system_link(_ from: String, _ to: String) -> Result<Void, Errno> {
    valueOrErrno { link(from, to) }.map { _ in () }
}

/// `unlink(2)`.
func system_unlink(_ path: String) -> Result<Void, Errno> {
    valueOrErrno { unlink(path) }.map { _ in () }
}

/// `flock(2)`.
func system_flock(_ fd: Int32, _ operation: Int32) -> Result<Void, Errno> {
    valueOrErrno { flock(fd, operation) }.map { _ in () }
}

/// `ftruncate(2)`.
func system_ftruncate(_ fd: Int32, _ length: Int) -> Result<Void, Errno> {
    valueOrErrno { ftruncate(fd, off_t(length)) }.map { _ in () }
}

/// `pwrite(2)` of all of `bytes` at `offset` (small writes only: the lock
/// file's holder pid).
func system_pwrite(_ fd: Int32, _ bytes: [UInt8], at offset: Int) -> Result<Void, Errno> {
    bytes.withUnsafeBytes { raw in
        valueOrErrno { pwrite(fd, raw.baseAddress, raw.count, off_t(offset)) }.map { _ in () }
    }
}

/// `realpath(3)`: the canonical absolute path with every link resolved.
func system_realpath(_ path: String) -> Result<String, Errno> {
    guard let resolved = realpath(path, nil) else { return .failure(.current) }
    defer { free(resolved) }
    return .success(String(cString: resolved))
}

/// `kill(pid, 0)`: whether a process with this id exists. A process we may
/// not signal (EPERM) exists.
func system_processExists(_ pid: pid_t) -> Bool {
    kill(pid, 0) == 0 || Errno.current != .noSuchProcess
}

/// `getpid(2)`.
func system_getpid() -> pid_t { getpid() }

/// `getegid(2)`.
func system_getegid() -> gid_t { getegid() }

/// `geteuid(2)`.
func system_geteuid() -> uid_t { geteuid() }

/// `clock_gettime(2)` for `clock`, as (seconds, nanoseconds).
func system_clockTime(_ clock: clockid_t) -> (seconds: Int, nanoseconds: Int) {
    var now = timespec()
    clock_gettime(clock, &now)
    return (Int(now.tv_sec), Int(now.tv_nsec))
}

/// The first `limit` bytes of a small file (a `/proc` entry, a lock file's
/// payload), read with one open and a few reads. `nil` when it cannot be
/// opened or read.
func system_readSmallFile(_ path: String, limit: Int = 4096, flags: Int32 = 0) -> [UInt8]? {
    guard case .success(let descriptor) = system_open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | flags) else { return nil }
    defer { _ = system_close(descriptor) }
    return system_readUpTo(descriptor, limit: limit)
}

/// Up to `limit` bytes from the descriptor's current offset; `nil` on a read error.
func system_readUpTo(_ descriptor: Int32, limit: Int) -> [UInt8]? {
    var bytes = [UInt8](repeating: 0, count: limit)
    var count = 0
    while count < limit {
        let result = bytes.withUnsafeMutableBytes { raw in
            system_read(descriptor, UnsafeMutableRawBufferPointer(rebasing: raw[count...]))
        }
        switch result {
        case .success(0): return Array(bytes[..<count])
        case .success(let read): count += read
        case .failure: return nil
        }
    }
    return bytes
}

/// Wall-clock milliseconds since the epoch, whole, like JavaScript's `Date.now()`.
func system_nowMilliseconds() -> Double {
    let now = system_clockTime(CLOCK_REALTIME)
    return Double(now.seconds * 1000 + now.nanoseconds / 1_000_000)
}

// MARK: - statx

#if os(Linux)
/// `statx(2)`'s signature. Glibc declares `statx` only under `_GNU_SOURCE`,
/// which Swift's Glibc module does not set, so it is looked up with `dlsym`
/// (it is in glibc since 2.28; without it the caller falls back to fstat).
private typealias StatxFunction = @convention(c) (
    Int32, UnsafePointer<CChar>, Int32, UInt32, UnsafeMutableRawPointer
) -> Int32

/// `AT_EMPTY_PATH` (a `_GNU_SOURCE` constant): statx the descriptor itself.
private let atEmptyPath: Int32 = 0x1000
/// `STATX_BASIC_STATS | STATX_BTIME`: the mask libuv (and so Node) asks for.
private let statxBasicStatsAndBirth: UInt32 = 0xFFF

/// What a lock file's stale-claim name is made from, as Node's `fs.fstat`
/// reports it through libuv's statx: the device as glibc's `makedev` of the
/// major and minor numbers, the inode, and the birth time (zero where the
/// file system records none).
func system_statxIdentity(_ descriptor: Int32) -> (device: UInt64, inode: UInt64, birthSeconds: Int64, birthNanoseconds: UInt32)? {
    guard let symbol = dlsym(nil, "statx") else { return nil }
    let statx = unsafeBitCast(symbol, to: StatxFunction.self)
    // struct statx is 256 bytes; the offsets below are its fixed Linux UAPI layout.
    var buffer = [UInt8](repeating: 0, count: 256)
    let result = buffer.withUnsafeMutableBytes { raw in
        valueOrErrno { "".withCString { statx(descriptor, $0, atEmptyPath, statxBasicStatsAndBirth, raw.baseAddress!) } }
    }
    guard case .success = result else { return nil }
    return buffer.withUnsafeBytes { raw in
        let inode = raw.loadUnaligned(fromByteOffset: 32, as: UInt64.self)
        let birthSeconds = raw.loadUnaligned(fromByteOffset: 80, as: Int64.self)
        let birthNanoseconds = raw.loadUnaligned(fromByteOffset: 88, as: UInt32.self)
        let major = UInt64(raw.loadUnaligned(fromByteOffset: 136, as: UInt32.self))
        let minor = UInt64(raw.loadUnaligned(fromByteOffset: 140, as: UInt32.self))
        // glibc's makedev.
        let device = ((major & 0x0000_0fff) << 8) | ((major & 0xffff_f000) << 32)
            | (minor & 0x0000_00ff) | ((minor & 0xffff_ff00) << 12)
        return (device, inode, birthSeconds, birthNanoseconds)
    }
}
#else
func system_statxIdentity(_ descriptor: Int32) -> (device: UInt64, inode: UInt64, birthSeconds: Int64, birthNanoseconds: UInt32)? {
    nil
}
#endif // os(Linux)
