// Where a worker's log goes is decided by the operator (the `--worker-log`
// template), never by the store. A record's values are substituted into the
// template, so each value must stay one plain name inside the folder the
// template names, and the file at the end must be one Vigil may append to.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif // canImport(Glibc)

/// Why a worker was refused before anything was launched: a record's value
/// would steer the log path, or the log path holds something planted.
public enum WorkerRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    /// A placeholder in the log path has a value that is not one plain file
    /// name (`problem` says why: empty, `/`, a leading `.`, NUL, control character).
    case unsafePathValue(placeholder: String, problem: String)
    /// The log path is a symbolic link: it is never followed.
    case logIsSymbolicLink(path: String)
    /// The log path exists and is not a regular file or a character device
    /// (a FIFO would block the launch, a socket or folder cannot be appended to).
    case logIsNotAFile(path: String, kind: String)
    /// The log path is a regular file with more than one hard link: a link
    /// planted to another file.
    case logHasOtherLinks(path: String, links: Int)

    /// One line for the report.
    public var description: String {
        switch self {
        case .unsafePathValue(let placeholder, let problem):
            return "the log path cannot use \(placeholder) for this record: its value \(problem)"
        case .logIsSymbolicLink(let path):
            return "log file \(path) is a symbolic link; it is not followed"
        case .logIsNotAFile(let path, let kind):
            return "log file \(path) is \(kind), not a regular file"
        case .logHasOtherLinks(let path, let links):
            return "log file \(path) has \(links) hard links; only a file with one is appended to"
        }
    }
}

extension WorkerTemplate {
    /// Why `value` cannot stand in a path, or `nil` when it is one plain name.
    ///
    /// A value may not be empty (a component would vanish: `logs/{socket}/x`
    /// would become `logs//x`), hold `/` (it would add folders, `..` among
    /// them), start with `.` (`.` and `..`, and hidden files), or hold a NUL
    /// or a control character (C0, DEL, C1). With these refused, no component
    /// that holds a value can be `.` or `..`, whatever the template puts around it.
    public static func pathValueProblem(_ value: String) -> String? {
        if value.isEmpty { return "is empty" }
        for scalar in value.unicodeScalars {
            if scalar.value == 0 { return "contains a NUL byte" }
            if scalar.isControlCharacter { return "contains a control character" }
            if scalar == "/" { return "contains '/'" }
        }
        if value.hasPrefix(".") { return "starts with '.'" }
        return nil
    }

    /// The log path for `request`, each placeholder's value checked first.
    /// - Returns: `nil` when the template has no log path (output to `/dev/null`).
    /// - Throws: `WorkerRefusal.unsafePathValue` naming the placeholder.
    public func logPath(for request: WorkerRequest) throws(WorkerRefusal) -> String? {
        guard let logPath else { return nil }
        return try Self.substitute(logPath, request) { (placeholder, value) throws(WorkerRefusal) -> String in
            if let problem = Self.pathValueProblem(value) {
                throw .unsafePathValue(placeholder: placeholder.token, problem: problem)
            }
            return value
        }
    }

    /// Looks at what is at the log path now, without following a link: a
    /// symbolic link, a FIFO, a socket, a folder or a multiply linked file
    /// is refused. A missing file is fine (it is created, mode 0600), and
    /// so is a character device such as `/dev/null`.
    ///
    /// This gives a clear reason; the guarantee is the open itself, which
    /// uses `O_NOFOLLOW`, so a link planted after this look is not followed
    /// either (the launch then fails with ELOOP).
    static func checkLogFile(_ path: String) -> WorkerRefusal? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil } // missing, or the open will name the problem
        let type = UInt32(info.st_mode) & UInt32(S_IFMT)
        switch type {
        case UInt32(S_IFREG):
            return info.st_nlink > 1 ? .logHasOtherLinks(path: path, links: Int(info.st_nlink)) : nil
        case UInt32(S_IFCHR):
            return nil
        case UInt32(S_IFLNK):
            return .logIsSymbolicLink(path: path)
        case UInt32(S_IFIFO):
            return .logIsNotAFile(path: path, kind: "a FIFO")
        case UInt32(S_IFSOCK):
            return .logIsNotAFile(path: path, kind: "a socket")
        case UInt32(S_IFDIR):
            return .logIsNotAFile(path: path, kind: "a folder")
        default:
            return .logIsNotAFile(path: path, kind: "a device")
        }
    }

    /// True when `path` is a symbolic link now (to explain an ELOOP).
    static func isSymbolicLink(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && UInt32(info.st_mode) & UInt32(S_IFMT) == UInt32(S_IFLNK)
    }
}
