// Which file, and which version of it, a store was loaded from. A commit
// compares the store's identity with the file on disk and refuses to replace
// a file that changed in between: the lock only keeps out other Vigils, not
// the daemon or a person with an editor, and overwriting their change would
// lose it silently.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif // canImport(Glibc)

/// Device, inode, size and modification time of a file.
struct FileIdentity: Sendable, Hashable {
    let device: UInt64
    let inode: UInt64
    let size: Int
    let modifiedSeconds: Int
    let modifiedNanoseconds: Int
    /// Permission bits (`st_mode & 07777`).
    let permissions: UInt32
    let owner: uid_t
    let group: gid_t
    /// `st_mode & S_IFMT`.
    let type: UInt32
    /// Hard links to the inode (`st_nlink`).
    let linkCount: Int
    /// Status change time (`st_ctim`): a link, an unlink or a chmod moves it.
    let changedSeconds: Int
    let changedNanoseconds: Int

    static let typeMask: UInt32 = 0o170000
    static let regularFile: UInt32 = 0o100000
    static let symbolicLink: UInt32 = 0o120000

    var isRegularFile: Bool { type == Self.regularFile }
    var isSymbolicLink: Bool { type == Self.symbolicLink }

    /// Whether two identities name the same inode (device and inode number).
    func sameInode(as other: FileIdentity) -> Bool {
        device == other.device && inode == other.inode
    }

    /// Modification time in milliseconds since the epoch, as Node's
    /// `stats.mtimeMs` computes it (`sec * 1e3 + nsec / 1e6`).
    var modifiedMilliseconds: Double {
        Double(modifiedSeconds) * 1e3 + Double(modifiedNanoseconds) / 1e6
    }

    /// Status change time in milliseconds since the epoch (`stats.ctimeMs`).
    var changedMilliseconds: Double {
        Double(changedSeconds) * 1e3 + Double(changedNanoseconds) / 1e6
    }

    /// Whether the modification time differs from `other`'s.
    func sameModificationTime(as other: FileIdentity) -> Bool {
        modifiedSeconds == other.modifiedSeconds && modifiedNanoseconds == other.modifiedNanoseconds
    }

    /// Whether the status change time differs from `other`'s.
    func sameChangeTime(as other: FileIdentity) -> Bool {
        changedSeconds == other.changedSeconds && changedNanoseconds == other.changedNanoseconds
    }

    /// Whether two identities name the same unchanged file (permissions and
    /// owner are not part of the content).
    func sameContent(as other: FileIdentity) -> Bool {
        device == other.device && inode == other.inode && size == other.size
            && modifiedSeconds == other.modifiedSeconds && modifiedNanoseconds == other.modifiedNanoseconds
    }
}

#if os(Linux)
extension FileIdentity {
    init(_ info: stat) {
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int(info.st_size)
        modifiedSeconds = Int(info.st_mtim.tv_sec)
        modifiedNanoseconds = Int(info.st_mtim.tv_nsec)
        permissions = UInt32(info.st_mode) & 0o7777
        owner = info.st_uid
        group = info.st_gid
        type = UInt32(info.st_mode) & Self.typeMask
        linkCount = Int(info.st_nlink)
        changedSeconds = Int(info.st_ctim.tv_sec)
        changedNanoseconds = Int(info.st_ctim.tv_nsec)
    }
}
#else
extension FileIdentity {
    init(_ info: stat) {
        device = UInt64(UInt32(bitPattern: info.st_dev))
        inode = UInt64(info.st_ino)
        size = Int(info.st_size)
        modifiedSeconds = Int(info.st_mtimespec.tv_sec)
        modifiedNanoseconds = Int(info.st_mtimespec.tv_nsec)
        permissions = UInt32(info.st_mode) & 0o7777
        owner = info.st_uid
        group = info.st_gid
        type = UInt32(info.st_mode) & Self.typeMask
        linkCount = Int(info.st_nlink)
        changedSeconds = Int(info.st_ctimespec.tv_sec)
        changedNanoseconds = Int(info.st_ctimespec.tv_nsec)
    }
}
#endif // os(Linux)
