// VigilSystem: the package's one place for system-call plumbing (errno,
// EINTR retry, write-all, sleep, open/close, folder listing, thread start).
// Internal to the package: only `Errno` is public, and VigilCore names it
// for users.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A POSIX error number with a readable name.
///
/// Kept as a raw value rather than an enum because the set differs between
/// platforms and a spawn can fail with any of them. `description` gives the C
/// name (`ENOENT`) so reasons read the same as the man pages.
public struct Errno: RawRepresentable, Error, Hashable, Sendable, CustomStringConvertible {
    /// The raw `errno` value.
    public var rawValue: Int32

    /// Wraps a raw `errno` value.
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// Wraps a raw `errno` value (the short spelling used inside the package).
    package init(_ rawValue: Int32) { self.rawValue = rawValue }

    /// The value of `errno` right now. Call it before anything else can
    /// overwrite errno (a `free`, a Swift allocation).
    package static var current: Errno { Errno(errno) }

    /// `ENOENT`: no such file or directory (the executable is not on PATH).
    public static let noSuchFile = Errno(rawValue: ENOENT)
    /// `EACCES`: permission denied (not executable, or a path component not searchable).
    public static let permissionDenied = Errno(rawValue: EACCES)
    /// `ENOEXEC`: the file is not in a format the kernel can execute.
    public static let execFormat = Errno(rawValue: ENOEXEC)
    /// `ENOTDIR`: a path component is not a directory.
    public static let notDirectory = Errno(rawValue: ENOTDIR)
    /// `EISDIR`: is a directory.
    public static let isDirectory = Errno(rawValue: EISDIR)
    /// `E2BIG`: the argument list and environment are too long.
    public static let argumentListTooLong = Errno(rawValue: E2BIG)
    /// `ENOMEM`: out of memory.
    public static let noMemory = Errno(rawValue: ENOMEM)
    /// `EAGAIN`: resource temporarily unavailable (process limit).
    public static let tryAgain = Errno(rawValue: EAGAIN)
    /// `EINVAL`: invalid argument (for example a NUL byte inside an argument).
    public static let invalidArgument = Errno(rawValue: EINVAL)
    /// `ECHILD`: no child to wait for (the host auto-reaps children).
    public static let noChild = Errno(rawValue: ECHILD)
    /// `EMFILE`: the process is out of descriptors.
    public static let tooManyOpenFiles = Errno(rawValue: EMFILE)
    /// `ENAMETOOLONG`: a path is too long.
    public static let nameTooLong = Errno(rawValue: ENAMETOOLONG)
    /// `ELOOP`: too many symbolic links.
    public static let tooManySymlinks = Errno(rawValue: ELOOP)
    /// `ETXTBSY`: the executable is open for writing.
    public static let textFileBusy = Errno(rawValue: ETXTBSY)
    /// `EINTR`: interrupted by a signal; `valueOrErrno` retries it.
    public static let interrupted = Errno(rawValue: EINTR)
    /// `EAGAIN` / `EWOULDBLOCK`: a non-blocking call found nothing to do (a lock taken).
    public static let wouldBlock = Errno(rawValue: EWOULDBLOCK)
    /// `EEXIST`: the name is taken (`link`, `open` with `O_EXCL`).
    public static let exists = Errno(rawValue: EEXIST)
    /// `ESRCH`: no such process (`kill(pid, 0)`).
    public static let noSuchProcess = Errno(rawValue: ESRCH)

    /// The C name, for example `ENOENT`, or `errno N` when unnamed here.
    public var name: String {
        switch rawValue {
        case ENOENT: return "ENOENT"
        case EACCES: return "EACCES"
        case ENOEXEC: return "ENOEXEC"
        case ENOTDIR: return "ENOTDIR"
        case EISDIR: return "EISDIR"
        case E2BIG: return "E2BIG"
        case ENOMEM: return "ENOMEM"
        case EAGAIN: return "EAGAIN"
        case EINVAL: return "EINVAL"
        case ECHILD: return "ECHILD"
        case EMFILE: return "EMFILE"
        case ENFILE: return "ENFILE"
        case ENAMETOOLONG: return "ENAMETOOLONG"
        case ELOOP: return "ELOOP"
        case ETXTBSY: return "ETXTBSY"
        case EPERM: return "EPERM"
        case EIO: return "EIO"
        case ENOSYS: return "ENOSYS"
        case ENOTSUP: return "ENOTSUP"
        case EINTR: return "EINTR"
        case ESRCH: return "ESRCH"
        case EEXIST: return "EEXIST"
        case ENOSPC: return "ENOSPC"
        case EROFS: return "EROFS"
        case EBADF: return "EBADF"
        case EPIPE: return "EPIPE"
        default: return "errno \(rawValue)"
        }
    }

    /// The libc message, for example "No such file or directory".
    public var message: String {
        guard let text = strerror(rawValue) else { return name }
        return String(cString: text)
    }

    /// `"<message> (<NAME>)"`, for example "No such file or directory (ENOENT)".
    public var description: String { "\(message) (\(name))" }
}
