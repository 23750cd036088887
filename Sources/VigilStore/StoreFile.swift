// The store on disk: reading it, creating it. Writing is in
// StoreFile+Commit.swift, locking in StoreLock.swift.
//
// Reading is one open, one fstat and one read into a buffer of the file's
// size; the document is parsed from that buffer and records keep pointing
// into it (see SessionRecord), so the file is read once and never copied.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif // canImport(Glibc)
import VigilSystem

/// A session store file: `load`, `lock`, `commit`.
///
/// A visitor that decides slowly (restore probes for seconds) loads without
/// the lock and commits per record with compare-and-set, holding the lock
/// only for the final read and write (StoreFile+CompareAndSet.swift):
///
///     let file = StoreFile(path: path)
///     var store = try file.load()
///     let id = store.records[0].id                      // decided on, slowly
///     let report = try await file.commit(&store, changes: [RecordChange(id: id)],
///                                        lock: .flock) { document, _, position in
///         document.records[position].close(at: StoreClock.nowISO8601(), reason: "backend-gone")
///     }                                                  // report.verdicts[0]: .applied, .changed or .removed
///
/// A writer that holds the lock across its own read-modify-write:
///
///     let lock = try file.lock(.flock, timeout: .seconds(5))
///     var store = try file.load()
///     store.records[0].close(at: StoreClock.nowISO8601(), reason: "backend-gone")
///     try file.commit(&store, holding: lock)
///     lock.release()
public struct StoreFile: Sendable {
    /// The store's path as given (may be relative, may be a symbolic link).
    public let path: String

    /// Names a store file; nothing is touched until `load`, `lock` or `commit`.
    public init(path: String) {
        self.path = path
    }

    /// The lock file beside the store: `<path>.lock`.
    ///
    /// It sits beside the path as given, even when that is a symlink, so
    /// every Vigil that names the store by the same path meets the same lock.
    public var lockPath: String { path + ".lock" }

    /// What a commit to this path would tell the user, found now (so a CLI
    /// can say it before the work starts): a symlinked store, whose target is
    /// written instead of the link. Commit reports it again through its
    /// `notice` callback.
    public var notices: [StoreNotice] {
        guard case .success(let info) = system_lstat(path), FileIdentity(info).isSymbolicLink,
              case .success(let target) = system_realpath(path) else { return [] }
        return [.writingSymlinkTarget(link: path, target: target)]
    }

    // MARK: - Loading

    /// Reads and validates the store.
    ///
    /// - Parameters:
    ///   - createIfMissing: if the store does not exist, create an empty
    ///     document (`{"version": 1, "sessions": []}`, mode 0600) atomically
    ///     and return it. Creation never replaces a store that appears
    ///     meanwhile, and never creates a file through a dangling symlink.
    ///   - notice: told about a store created here.
    /// - Returns: the document, remembering which file version it came from.
    /// - Throws: `.notFound` if the store is missing (and not to be created);
    ///   `.invalidData` if it is not a valid store (the file is untouched);
    ///   `.cannotWrite` if it cannot be read or created.
    public func load(
        createIfMissing: Bool = false,
        notice: (StoreNotice) -> Void = { _ in }
    ) throws(StoreError) -> SessionStore {
        switch readSource() {
        case .success(let (source, identity)):
            var store = try SessionStore(source: source, path: path)
            store.origin = identity
            return store
        case .failure(let error) where error.category == .notFound && createIfMissing:
            return try create(notice: notice)
        case .failure(let error):
            throw error
        }
    }

    /// Reads and validates the store as a `StoreIndex`: the same checks
    /// and errors as `load()`, a fraction of its memory.
    package func loadIndex() throws(StoreError) -> StoreIndex {
        switch readSource() {
        case .success(let (source, _)): return try StoreIndex(source: source, path: path)
        case .failure(let error): throw error
        }
    }

    /// Whether the file at the path is still the version `store` was loaded
    /// from (same device, inode, size and modification time).
    ///
    /// For a caller that validates the store before taking the lock (so that
    /// a missing or invalid store is refused without creating the lock file)
    /// and then keeps what it read if nothing changed in between.
    public func isUnchanged(since store: SessionStore) -> Bool {
        guard let origin = store.origin, case .success(let info) = system_stat(path) else { return false }
        return FileIdentity(info).sameContent(as: origin)
    }

    /// The whole file in one buffer, with the identity it had when opened.
    func readDocument() -> Result<([UInt8], FileIdentity), StoreError> {
        withOpenDocument { descriptor, identity in Self.readToEnd(descriptor, expectedSize: identity.size) }
    }

    /// The whole file as a `StoreSource`: in pages of its own when it is
    /// large (see `StoreSource`), with the identity it had when opened.
    func readSource() -> Result<(StoreSource, FileIdentity), StoreError> {
        withOpenDocument { descriptor, identity in Self.readSource(descriptor, expectedSize: identity.size) }
    }

    /// Opens the file (a regular file, or an error saying what it is), and
    /// reads it with `read`.
    private func withOpenDocument<Bytes>(
        _ read: (Int32, FileIdentity) -> Result<Bytes, Errno>
    ) -> Result<(Bytes, FileIdentity), StoreError> {
        let descriptor: Int32
        // O_NONBLOCK: a FIFO at the store's path must not hang the open (it is
        // refused below as not a regular file); regular files ignore it.
        switch system_open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK) {
        case .success(let fd): descriptor = fd
        case .failure(let error) where error == .noSuchFile:
            return .failure(StoreError(.notFound, path: path, message: "no such file", underlyingErrno: error.rawValue))
        case .failure(let error):
            return .failure(.fromErrno(error, path: path, doing: "cannot open"))
        }
        defer { _ = system_close(descriptor) }

        let identity: FileIdentity
        switch system_fstat(descriptor) {
        case .success(let info): identity = FileIdentity(info)
        case .failure(let error): return .failure(.fromErrno(error, path: path, doing: "cannot stat"))
        }
        guard identity.isRegularFile else {
            return .failure(StoreError(.cannotWrite, path: path, message: "not a regular file"))
        }

        switch read(descriptor, identity) {
        case .success(let bytes): return .success((bytes, identity))
        case .failure(let error): return .failure(.fromErrno(error, path: path, doing: "cannot read"))
        }
    }

    /// Files from this size are read in two halves at once. A read from
    /// the page cache into fresh pages is bound by memory (the kernel clears
    /// each page, then copies into it), and a second thread gains on it only
    /// for big files: medians of 15 reads into huge pages on the 2-processor
    /// machine of figure 9, one thread against two: 2.7 MB 0.46 against
    /// 0.68 ms, 5.4 MB 0.95 against 1.22, 10.7 MB 2.13 against 2.25, 27 MB
    /// 6.69 against 6.33 (the two threads' first writes meet in one huge
    /// page, which one of them clears while the other waits).
    static let twoPartReadThreshold = 16 << 20

    /// Reads until end of file into one buffer sized from fstat. The extra
    /// byte detects a file that grew since fstat; then reading goes on in
    /// chunks (and the identity check at commit time notices the change).
    static func readToEnd(_ descriptor: Int32, expectedSize: Int) -> Result<[UInt8], Errno> {
        var filled = Filled(count: 0, failure: nil, reachedEnd: false)
        var bytes = [UInt8](unsafeUninitializedCapacity: expectedSize + 1) { buffer, count in
            filled = fill(buffer, from: descriptor, expectedSize: expectedSize)
            count = filled.count
        }
        if let failure = filled.failure { return .failure(failure) }
        if !filled.reachedEnd, let failure = readRest(descriptor, appendingTo: &bytes) { return .failure(failure) }
        return .success(bytes)
    }

    /// `readToEnd` into a `StoreSource`: a file of `StoreSource.pagesFrom`
    /// bytes or more goes into pages of its own (an array if they cannot
    /// be mapped, or if the file grew past its fstat size meanwhile).
    static func readSource(_ descriptor: Int32, expectedSize: Int) -> Result<StoreSource, Errno> {
        // An arena as large again: room for the index (64 bytes a record,
        // the records of each half reserved once) of records down to about
        // 100 bytes each; only what is used is ever faulted in.
        guard expectedSize >= StoreSource.pagesFrom, let pages = StoreSource.Pages(capacity: expectedSize + 1, arena: expectedSize) else {
            return readToEnd(descriptor, expectedSize: expectedSize).map { StoreSource($0) }
        }
        // The thread that will read parts of the document starts now,
        // while this one reads the file (see `StoreSource.takeHelper`).
        let helper = expectedSize >= storeSplitThreshold && system_onlineProcessors() > 1 ? ParkedThread.start() : nil
        let filled = fill(pages.buffer, from: descriptor, expectedSize: expectedSize)
        if let failure = filled.failure {
            pages.release()
            return .failure(failure)
        }
        if filled.reachedEnd { return .success(StoreSource(pages, count: filled.count, helper: helper)) }
        var bytes = Array(UnsafeBufferPointer(rebasing: pages.buffer[..<filled.count]))
        pages.release()
        if let failure = readRest(descriptor, appendingTo: &bytes) { return .failure(failure) }
        return .success(StoreSource(bytes))
    }

    /// What `fill` read: how many bytes, and whether it met the end of the
    /// file or an error before the buffer was full.
    struct Filled {
        var count: Int
        var failure: Errno?
        var reachedEnd: Bool
    }

    /// Reads from the start of the file into `buffer` (room for
    /// `expectedSize` bytes and at least one more), the two halves at once
    /// for a large file, until the buffer is full, the end or an error.
    static func fill(_ buffer: UnsafeMutableBufferPointer<UInt8>, from descriptor: Int32, expectedSize: Int) -> Filled {
        var count = 0
        if expectedSize >= twoPartReadThreshold && system_onlineProcessors() > 1 {
            count = readInTwoParts(descriptor, into: UnsafeMutableBufferPointer(rebasing: buffer[..<expectedSize]))
            // The file offset was not moved: reading goes on after what was read.
            if case .failure(let error) = system_seek(descriptor, to: count) {
                return Filled(count: count, failure: error, reachedEnd: false)
            }
        }
        while count < buffer.count {
            let rest = UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: buffer[count...]))
            switch system_read(descriptor, rest) {
            case .success(0): return Filled(count: count, failure: nil, reachedEnd: true)
            case .success(let read): count += read
            case .failure(let error): return Filled(count: count, failure: error, reachedEnd: false)
            }
        }
        return Filled(count: count, failure: nil, reachedEnd: false)
    }

    /// Reads on to the end of the file in chunks, appending to `bytes`;
    /// the error if a read fails.
    static func readRest(_ descriptor: Int32, appendingTo bytes: inout [UInt8]) -> Errno? {
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let result = chunk.withUnsafeMutableBytes { system_read(descriptor, $0) }
            switch result {
            case .success(0): return nil
            case .success(let read): bytes.append(contentsOf: chunk[..<read])
            case .failure(let error): return error
            }
        }
    }

    /// Reads `buffer.count` bytes from the start of a regular file, the
    /// second half on a second thread (copying from the page cache and
    /// faulting in the buffer's pages take two processors half the time).
    /// Returns how many bytes from the start were read without a gap:
    /// fewer when the file was shorter than expected or a read failed (the
    /// caller reads on from there, one read at a time, and meets the end or
    /// the error itself).
    static func readInTwoParts(_ descriptor: Int32, into buffer: UnsafeMutableBufferPointer<UInt8>) -> Int {
        // The halves meet on a page boundary: no page is written by both.
        let middle = (buffer.count / 2) & ~4095
        // Written by the other thread only, and only until `join`.
        nonisolated(unsafe) let second = UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: buffer[middle...]))
        let secondRead = ReadCount()
        let thread = JoinableThread.start {
            secondRead.value = readFully(descriptor, into: second, at: middle)
        }
        let firstRead = readFully(descriptor, into: UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: buffer[..<middle])), at: 0)
        guard let thread else { return firstRead }
        thread.join()
        return firstRead == middle ? middle + secondRead.value : firstRead
    }

    /// The second half's count: written by its thread before it ends, read
    /// after `join` (which orders the two).
    private final class ReadCount: @unchecked Sendable {
        var value = 0
    }

    /// `pread(2)` until `buffer` is full, the end of file or an error;
    /// returns the bytes read.
    private static func readFully(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int) -> Int {
        var count = 0
        while count < buffer.count {
            guard case .success(let read) = system_pread(descriptor, UnsafeMutableRawBufferPointer(rebasing: buffer[count...]),
                                                         at: offset + count), read > 0 else { break }
            count += read
        }
        return count
    }

    /// How many other hard links the store file has (0 for a file with one
    /// name), or nil if it cannot be examined. A commit replaces the store's
    /// name with a new file; the other names keep the previous version.
    public var otherHardLinks: Int? {
        guard case .success(let info) = system_stat(path) else { return nil }
        return max(0, FileIdentity(info).linkCount - 1)
    }

    // MARK: - Creating

    /// Creates an empty store (`{"version": 1, "sessions": []}`, mode 0600)
    /// under the store's lock, unless one exists by then (which is read).
    ///
    /// A store path that is a symbolic link to nothing is refused before the
    /// lock is taken, so a refusal leaves no lock file behind.
    /// - Throws: as `load(createIfMissing:notice:)` and `lock(using:timeout:notice:)`.
    public func create(
        lock lockProtocol: StoreLockProtocol,
        timeout: Duration,
        notice: (StoreNotice) -> Void = { _ in }
    ) async throws(StoreError) -> SessionStore {
        try refuseCreatingThroughSymlink()
        let lock = try await self.lock(using: lockProtocol, timeout: timeout, notice: notice)
        let store = try load(createIfMissing: true, notice: notice)
        lock.release()
        return store
    }

    /// A dangling symlink reads as "no such file"; creating through it
    /// would put the store wherever the link points, silently.
    func refuseCreatingThroughSymlink() throws(StoreError) {
        if case .success(let info) = system_lstat(path), FileIdentity(info).isSymbolicLink,
           case .failure(let error) = system_stat(path), error == .noSuchFile {
            throw StoreError(.notFound, path: path, message: "is a symlink to a file that does not exist; not creating a store through it")
        }
    }

    /// Writes an empty store where none exists, without ever replacing one:
    /// the temporary file is hard-linked to the store name (`link` fails if
    /// the name exists) rather than renamed over it.
    func create(notice: (StoreNotice) -> Void) throws(StoreError) -> SessionStore {
        try refuseCreatingThroughSymlink()
        var store = SessionStore()
        let written = store.serializedWithLayout()
        let location = StoreLocation(target: path)
        let temporary = try writeTemporary(written.bytes, in: location, permissions: 0o600, owner: nil)
        switch system_link(temporary.path, path) {
        case .success:
            _ = system_unlink(temporary.path)
        case .failure(let error) where error == .exists:
            // Someone created it first: theirs wins, read it.
            _ = system_unlink(temporary.path)
            return try load(createIfMissing: false)
        case .failure(let error) where error == Errno(EPERM) || error == Errno(ENOTSUP) || error == Errno(ENOSYS) || error == Errno(EOPNOTSUPP):
            // No hard links on this file system (vfat, some FUSE): fall back
            // to rename, which could replace a store created in the last
            // microseconds; the caller's lock is what prevents that.
            if case .failure(let renameError) = system_rename(temporary.path, path) {
                _ = system_unlink(temporary.path)
                throw StoreError.fromErrno(renameError, path: path, doing: "cannot create")
            }
        case .failure(let error):
            _ = system_unlink(temporary.path)
            throw StoreError.fromErrno(error, path: path, doing: "cannot create")
        }
        try syncFolder(location.folder)
        store.adopt(written)
        store.origin = temporary.identity
        notice(.created(path: path))
        return store
    }
}

/// Where a store's bytes go: the real file (after resolving a symlink), its
/// folder and its name.
struct StoreLocation {
    let target: String
    let folder: String
    let name: String

    init(target: String) {
        self.target = target
        if let slash = target.lastIndex(of: "/") {
            let folder = String(target[..<slash])
            self.folder = folder.isEmpty ? "/" : folder
            self.name = String(target[target.index(after: slash)...])
        } else {
            self.folder = "."
            self.name = target
        }
    }

    /// The prefix of every temporary file for this store:
    /// `.<name>.vigil-tmp-`. The leading dot keeps it out of plain `ls` and
    /// out of globs like `*.json`.
    var temporaryPrefix: String { "." + name + ".vigil-tmp-" }
}
