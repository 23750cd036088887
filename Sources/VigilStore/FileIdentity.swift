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

    static let typeMask: UInt32 = 0o170000
    static let regularFile: UInt32 = 0o100000
    static let symbolicLink: UInt32 = 0o120000

    var isRegularFile: Bool { type == Self.regularFile }
    var isSymbolicLink: Bool { type == Self.symbolicLink }

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
    }
}
#endif // os(Linux)
