// `Signal`, the core's signal number with a readable name. `Errno` is
// defined once, in VigilSystem (Sources/VigilSystem/Errno.swift); the core
// only re-exports it and names it `VigilCore.Errno` for users.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
// Re-exported so that `Errno`'s members are visible wherever VigilCore is
// imported (member import visibility); VigilSystem's only public type is `Errno`.
@_exported public import VigilSystem

/// A POSIX error number with a readable name: `ENOENT`, `EACCES` and the
/// others a spawn or a file operation can fail with (see `VigilSystem.Errno`).
public typealias Errno = VigilSystem.Errno

/// A signal number with a readable name.
public struct Signal: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The raw signal number.
    public var rawValue: Int32

    /// Wraps a raw signal number.
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// `SIGKILL`: cannot be caught; the default deadline signal.
    public static let kill = Signal(rawValue: SIGKILL)
    /// `SIGTERM`: polite termination.
    public static let terminate = Signal(rawValue: SIGTERM)
    /// `SIGINT`: interrupt.
    public static let interrupt = Signal(rawValue: SIGINT)
    /// `SIGSEGV`: segmentation fault.
    public static let segmentationFault = Signal(rawValue: SIGSEGV)
    /// `SIGABRT`: abort.
    public static let abort = Signal(rawValue: SIGABRT)
    /// `SIGHUP`: hang-up.
    public static let hangup = Signal(rawValue: SIGHUP)

    /// The C name, for example `SIGKILL`, or `signal N`.
    public var name: String {
        switch rawValue {
        case SIGHUP: return "SIGHUP"
        case SIGINT: return "SIGINT"
        case SIGQUIT: return "SIGQUIT"
        case SIGILL: return "SIGILL"
        case SIGTRAP: return "SIGTRAP"
        case SIGABRT: return "SIGABRT"
        case SIGBUS: return "SIGBUS"
        case SIGFPE: return "SIGFPE"
        case SIGKILL: return "SIGKILL"
        case SIGUSR1: return "SIGUSR1"
        case SIGSEGV: return "SIGSEGV"
        case SIGUSR2: return "SIGUSR2"
        case SIGPIPE: return "SIGPIPE"
        case SIGALRM: return "SIGALRM"
        case SIGTERM: return "SIGTERM"
        case SIGCHLD: return "SIGCHLD"
        case SIGCONT: return "SIGCONT"
        case SIGSTOP: return "SIGSTOP"
        case SIGTSTP: return "SIGTSTP"
        case SIGSYS: return "SIGSYS"
        case SIGXCPU: return "SIGXCPU"
        default: return "signal \(rawValue)"
        }
    }

    /// The C name.
    public var description: String { name }
}
