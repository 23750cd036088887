// Atomic, durable replacement of the store.
//
// The protocol, and why each step is there:
// 1. Resolve a symlinked store path with realpath and write into the target's
//    folder: renaming over the link would replace the link with a regular
//    file and leave its target stale. The caller is told (a notice).
// 2. Refuse if the file is not the one we loaded (device, inode, size,
//    mtime): someone else wrote it meanwhile and replacing it would lose
//    their change. (The compare-and-set commit, StoreFile+CompareAndSet.swift,
//    compares bytes instead and merges per record.) A store with other hard
//    links is replaced with a notice (those names keep the old version) or,
//    with strictLinks, refused.
// 3. Write the whole document into `.<name>.vigil-tmp-<pid>-<random>` in the
//    same folder (rename is only atomic within one file system), created
//    O_EXCL|O_NOFOLLOW so we never write through a planted link. Give it the
//    old file's owner (best effort; only root can) and permissions before
//    any content lands in it, so the store is never briefly readable by
//    more people than before.
// 4. fsync the temporary file, then rename it over the store: without the
//    fsync, a crash after the rename can leave a renamed but empty file on
//    ext4/xfs (the rename reaches the journal before the data).
// 5. fsync the folder, so the rename itself survives a power loss.
// A kill -9 at any instant leaves the old store (before step 4's rename) or
// the new one (after); at worst a temporary file is left behind, and the next
// commit removes it once its writer is gone. On any failure before the
// rename the temporary file is removed and the store is untouched.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif // canImport(Glibc)
import VigilSystem

/// A step at which a test makes a commit fail, to check the cleanup: passed
/// to `commit(_:holding:strictLinks:notice:injecting:)`, never stored.
enum CommitFault: Sendable, Equatable {
    /// After the temporary file was created, before anything was written.
    case afterCreatingTemporary
    /// After half of the document was written to the temporary file.
    case duringWrite
    /// After the temporary file was synced, before the rename.
    case beforeRename
    /// After the rename, as if syncing the folder failed.
    case afterRename
}

extension StoreFile {
    /// Atomically and durably replaces the store with `store`'s document.
    ///
    /// Unmodified records are copied from the loaded bytes, modified ones are
    /// re-serialized; the whole document goes out in one buffer. On success
    /// `store` is updated to match the file: no record is modified any more,
    /// and a later commit compares against the file just written.
    /// - Parameters:
    ///   - store: the document to write; loaded from this file (or new).
    ///   - lock: this store's lock, held by the caller.
    ///   - strictLinks: refuse (`.cannotWrite`) a store file with other hard
    ///     links; by default it is replaced and `notice` says that the other
    ///     names still show the previous version.
    ///   - notice: told when the path is a symlink (the target is written),
    ///     and about stale temporary files removed.
    /// - Throws: `.locked` if the file changed (or vanished) since `store`
    ///   was loaded; `.cannotWrite` if the folder or file cannot be written
    ///   (then the store is untouched and no temporary file is left);
    ///   `.notFound` if the store's folder, or a symlink's target, is gone.
    ///   A `.cannotWrite` whose message says "the new document is in place"
    ///   means the rename happened but the folder sync failed.
    public func commit(
        _ store: inout SessionStore,
        holding lock: borrowing StoreLock,
        strictLinks: Bool = false,
        notice: (StoreNotice) -> Void = { _ in }
    ) throws(StoreError) {
        try commit(&store, holding: lock, strictLinks: strictLinks, notice: notice, injecting: nil)
    }

    /// `commit`, failing at `fault` when one is given (tests check the cleanup with it).
    func commit(
        _ store: inout SessionStore,
        holding lock: borrowing StoreLock,
        strictLinks: Bool,
        notice: (StoreNotice) -> Void,
        injecting fault: CommitFault?
    ) throws(StoreError) {
        precondition(lock.lockPath == lockPath, "commit to \(path) while holding \(lock.lockPath)")
        let location = try resolveTarget(notice: notice)
        let current: FileIdentity?
        switch system_stat(location.target) {
        case .success(let info): current = FileIdentity(info)
        case .failure(let error) where error == .noSuchFile: current = nil
        case .failure(let error): throw StoreError.fromErrno(error, path: path, doing: "cannot stat")
        }
        if let origin = store.origin {
            guard let current else {
                throw StoreError(.locked, path: path, message: "was removed since it was loaded; nothing written")
            }
            guard current.sameContent(as: origin) else {
                throw StoreError(.locked, path: path, message: "changed on disk since it was loaded (another writer?); nothing written, load it again")
            }
        }
        let written = store.serializedWithLayout()
        let identity = try writeAndRename(written.bytes, at: location, replacing: current, strictLinks: strictLinks, notice: notice, fault: fault)
        store.adopt(written)
        store.origin = identity
        if fault == .afterRename {
            throw StoreError(.cannotWrite, path: path, message: "the new document is in place, but syncing its folder failed (injected)", underlyingErrno: EIO)
        }
        try syncFolder(location.folder)
    }

    /// Steps 3 and 4 of the protocol: checks the file being replaced, writes
    /// `bytes` into a synced temporary file beside it and renames it over the
    /// store. The caller syncs the folder (step 5).
    /// - Parameters:
    ///   - current: the file being replaced (nil: none); its mode and owner
    ///     are kept, a new store gets 0600.
    ///   - strictLinks: refuse a store with other hard links instead of
    ///     replacing it with a notice.
    /// - Returns: the identity of the file now at the store's place.
    func writeAndRename(
        _ bytes: [UInt8],
        at location: StoreLocation,
        replacing current: FileIdentity?,
        strictLinks: Bool,
        notice: (StoreNotice) -> Void,
        fault: CommitFault? = nil
    ) throws(StoreError) -> FileIdentity {
        try writeAndRename(at: location, replacing: current, strictLinks: strictLinks, notice: notice, fault: fault) { descriptor in
            bytes.withUnsafeBytes { raw in Self.writeInPieces(raw, to: descriptor) }
        }
    }

    /// `writeAndRename(_:at:replacing:strictLinks:notice:)` with the content
    /// written by `content` (into the temporary file's descriptor), so a
    /// document can be streamed instead of laid out whole first.
    func writeAndRename(
        at location: StoreLocation,
        replacing current: FileIdentity?,
        strictLinks: Bool,
        notice: (StoreNotice) -> Void,
        fault: CommitFault? = nil,
        content: (_ descriptor: Int32) -> Result<Void, Errno>
    ) throws(StoreError) -> FileIdentity {
        try checkReplaceable(current, strictLinks: strictLinks, notice: notice)
        removeStaleTemporaries(in: location, notice: notice)
        let temporary = try writeTemporary(
            in: location,
            permissions: current?.permissions ?? 0o600,
            owner: current.map { ($0.owner, $0.group) },
            fault: fault,
            content: content
        )
        try renameTemporary(temporary.path, over: location, fault: fault)
        return temporary.identity
    }

    /// Refuses to replace something that is not a regular file, and deals
    /// with other hard links (a notice, or a refusal with `strictLinks`).
    func checkReplaceable(_ current: FileIdentity?, strictLinks: Bool, notice: (StoreNotice) -> Void) throws(StoreError) {
        if let current, !current.isRegularFile {
            throw StoreError(.cannotWrite, path: path, message: "not a regular file")
        }
        if let current, current.linkCount > 1 {
            // rename(2) gives the store's name a new inode; the other names
            // keep the old one. Tell the user, or refuse when asked to.
            if strictLinks {
                throw StoreError(.cannotWrite, path: path, message: "has \(current.linkCount - 1) other hard link\(current.linkCount == 2 ? "" : "s"), which a rewrite would leave on the previous version; refusing (--strict-links)")
            }
            notice(.hardLinksLeftBehind(path: path, otherLinks: current.linkCount - 1))
        }
    }

    /// Step 4's rename; on failure the temporary file is removed.
    func renameTemporary(_ temporary: String, over location: StoreLocation, fault: CommitFault? = nil) throws(StoreError) {
        if fault == .beforeRename {
            _ = system_unlink(temporary)
            throw StoreError.fromErrno(Errno(EIO), path: path, doing: "cannot write (injected before rename)")
        }
        if case .failure(let error) = system_rename(temporary, location.target) {
            _ = system_unlink(temporary)
            throw StoreError.fromErrno(error, path: path, doing: "cannot replace \(location.target)")
        }
    }

    /// Writes `bytes` with `write(2)` calls of at most 8 MiB each (EINTR and
    /// short writes retried).
    static func writeInPieces(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32) -> Result<Void, Errno> {
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + (8 << 20))
            if case .failure(let error) = system_writeAll(descriptor, UnsafeRawBufferPointer(rebasing: bytes[offset..<end])) {
                return .failure(error)
            }
            offset = end
        }
        return .success(())
    }

    /// The file to write: the store itself, or the target of a symlink.
    func resolveTarget(notice: (StoreNotice) -> Void) throws(StoreError) -> StoreLocation {
        guard case .success(let info) = system_lstat(path), FileIdentity(info).isSymbolicLink else {
            return StoreLocation(target: path)
        }
        switch system_realpath(path) {
        case .success(let target):
            notice(.writingSymlinkTarget(link: path, target: target))
            return StoreLocation(target: target)
        case .failure(let error):
            throw StoreError.fromErrno(error, path: path, doing: "is a symlink that cannot be resolved")
        }
    }

    /// Writes `bytes` into a new temporary file beside the store, synced and
    /// closed. On failure nothing is left behind.
    /// - Returns: the temporary path and the identity of what was written.
    func writeTemporary(
        _ bytes: [UInt8],
        in location: StoreLocation,
        permissions: UInt32,
        owner: (uid_t, gid_t)?
    ) throws(StoreError) -> (path: String, identity: FileIdentity) {
        try writeTemporary(in: location, permissions: permissions, owner: owner) { descriptor in
            bytes.withUnsafeBytes { raw in Self.writeInPieces(raw, to: descriptor) }
        }
    }

    /// Writes what `content` writes into a new temporary file beside the
    /// store, synced and closed. On failure nothing is left behind.
    /// - Returns: the temporary path and the identity of what was written.
    func writeTemporary(
        in location: StoreLocation,
        permissions: UInt32,
        owner: (uid_t, gid_t)?,
        fault: CommitFault? = nil,
        content: (_ descriptor: Int32) -> Result<Void, Errno>
    ) throws(StoreError) -> (path: String, identity: FileIdentity) {
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let temporary = location.folder + "/" + location.temporaryPrefix + "\(system_getpid())-" + suffix
        let descriptor: Int32
        switch system_open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY, mode: 0o600) {
        case .success(let fd): descriptor = fd
        case .failure(let error):
            throw StoreError.fromErrno(error, path: path, doing: "cannot create a temporary file in \(location.folder)")
        }
        func fail(_ error: Errno, _ what: String) -> StoreError {
            _ = system_close(descriptor)
            _ = system_unlink(temporary)
            return StoreError.fromErrno(error, path: path, doing: what)
        }

        // Owner first: chown clears set-id bits, and a fchmod after it puts
        // the exact old permissions back. Only root may give a file away, so
        // EPERM is expected for everyone else (their files are theirs anyway).
        if let (user, group) = owner, user != system_geteuid() || group != system_getegid() {
            if case .failure(let error) = system_fchown(descriptor, user, group), error != Errno(EPERM) {
                throw fail(error, "cannot set the owner of \(temporary)")
            }
        }
        if case .failure(let error) = system_fchmod(descriptor, permissions) {
            throw fail(error, "cannot set the mode of \(temporary)")
        }
        if fault == .afterCreatingTemporary {
            throw fail(Errno(ENOSPC), "cannot write \(temporary) (injected)")
        }
        var written = content(descriptor)
        if fault == .duringWrite, case .success = written {
            // The content is in; cut the file to half of it, as a disk
            // that filled up halfway would have left it.
            if case .success(let info) = system_fstat(descriptor) {
                _ = ftruncate(descriptor, off_t(FileIdentity(info).size / 2))
            }
            written = .failure(Errno(ENOSPC))
        }
        if case .failure(let error) = written { throw fail(error, "cannot write \(temporary)") }
        if case .failure(let error) = system_fsync(descriptor) { throw fail(error, "cannot sync \(temporary)") }
        let identity: FileIdentity
        switch system_fstat(descriptor) {
        case .success(let info): identity = FileIdentity(info)
        case .failure(let error): throw fail(error, "cannot stat \(temporary)")
        }
        // close can report a deferred write error (NFS); a file we cannot
        // vouch for must not replace the store.
        if case .failure(let error) = system_close(descriptor) {
            _ = system_unlink(temporary)
            throw StoreError.fromErrno(error, path: path, doing: "cannot close \(temporary)")
        }
        return (temporary, identity)
    }

    /// fsyncs a folder so a rename or link in it is durable.
    func syncFolder(_ folder: String) throws(StoreError) {
        let descriptor: Int32
        switch system_open(folder, O_RDONLY | O_DIRECTORY) {
        case .success(let fd): descriptor = fd
        case .failure(let error):
            throw StoreError.fromErrno(error, path: path, doing: "the new document is in place, but its folder cannot be opened to sync it")
        }
        defer { _ = system_close(descriptor) }
        // Some file systems cannot fsync a folder and say EINVAL; there is
        // nothing more we can do for durability there, and it is not a failure.
        if case .failure(let error) = system_fsync(descriptor), error != .invalidArgument {
            throw StoreError.fromErrno(error, path: path, doing: "the new document is in place, but syncing its folder failed")
        }
    }

    /// Removes this store's temporary files whose writer process is gone
    /// (left by a kill -9 or power loss mid-write). Files of live processes,
    /// and of our own, are left alone; errors are ignored.
    func removeStaleTemporaries(in location: StoreLocation, notice: (StoreNotice) -> Void) {
        guard case .success(let names) = system_listFolder(location.folder) else { return }
        let prefix = location.temporaryPrefix
        let ownPID = system_getpid()
        for name in names where name.hasPrefix(prefix) {
            let rest = name.dropFirst(prefix.count)
            guard let dash = rest.firstIndex(of: "-"), let pid = Int32(rest[..<dash]), pid > 0,
                  pid != ownPID, !system_processExists(pid) else { continue }
            let stale = location.folder + "/" + name
            if case .success = system_unlink(stale) {
                notice(.removedStaleTemporary(path: stale))
            }
        }
    }
}
