// Things a store operation did that the user should hear about but that are
// not errors. The CLI prints them; the library never prints.

/// Something a load or commit did that is worth telling the user.
public enum StoreNotice: Sendable, Hashable, CustomStringConvertible {
    /// The store path is a symbolic link; the new document was written into
    /// its resolved target (the link itself is left as it is).
    case writingSymlinkTarget(link: String, target: String)
    /// The store did not exist and an empty one was created (only when the
    /// caller asked for that).
    case created(path: String)
    /// A temporary file left by an interrupted write of a process that no
    /// longer exists was removed.
    case removedStaleTemporary(path: String)
    /// An exclusive-create lock whose holder is provably dead was removed
    /// (see `StoreLockProtocol.exclusiveCreate`).
    case brokeStaleLock(path: String, reason: String)
    /// The store had other hard links; the commit replaced the store's name
    /// with a new file, so the other names still show the previous version.
    case hardLinksLeftBehind(path: String, otherLinks: Int)

    /// One line for the user, e.g.
    /// `store /a/s.json is a symlink; writing its target /b/s.json`.
    public var description: String {
        switch self {
        case .writingSymlinkTarget(let link, let target):
            "store \(link) is a symlink; writing its target \(target)"
        case .created(let path):
            "store \(path) did not exist; created an empty store"
        case .removedStaleTemporary(let path):
            "removed \(path), left behind by an interrupted write"
        case .brokeStaleLock(let path, let reason):
            "removed stale lock \(path): \(reason)"
        case .hardLinksLeftBehind(let path, let otherLinks):
            "store \(path) had \(otherLinks) other hard link\(otherLinks == 1 ? "" : "s"); \(otherLinks == 1 ? "it still points" : "they still point") at the previous version"
        }
    }
}
