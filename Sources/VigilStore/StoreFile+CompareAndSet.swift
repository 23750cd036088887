// The optimistic commit: decide without the lock, then apply each decision
// only to a record that is still byte for byte what it was decided from.
//
// A visitor such as restore reads the store, spends seconds probing, and
// then wants to write a few changes. Holding the daemon's lock all that time
// would stop the daemon from saving; writing blindly afterwards would drop
// whatever the daemon saved meanwhile. So:
//
// 1. Without the lock: the caller loads the document and decides, per
//    record id, what to change (`RecordChange`); the edits are applied to
//    the loaded document and the result is streamed into a temporary file
//    beside the store (`RecordDocument.serialized(into:)`), which is synced.
// 2. Take the lock (async: the task is suspended while waiting).
// 3. Read the file again. If it is byte for byte what was loaded (the
//    common case) and has the same mode and owner, the prepared temporary
//    file is renamed over it; otherwise that file is removed.
//    Otherwise parse the new version and, for every change, find the record
//    by id: if its bytes equal the bytes the decision was made from, apply
//    the change to the new version (`.applied`); if they differ, leave it
//    (`.changed`); if it is gone, `.removed`. Everything else in the new
//    version, another writer's new records included, is kept as it is.
// 4. If anything is to be written: rename (after a merge: a new temporary
//    file, fsync, rename) and fsync of the folder (StoreFile+Commit.swift),
//    all under the lock.
// 5. Release. The lock is held for one read of the store and a rename.
//
// Only the record's bytes and its id take part, never the document's
// layout, so any format whose records have ids and byte ranges can use this
// (`RecordDocument`). A writer that does not take the same lock is not
// excluded: between step 3's read and step 4's rename its update can still
// be lost. Writers of a store must agree on its `StoreLockProtocol`.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif // canImport(Glibc)
import VigilSystem

/// A store document that a compare-and-set commit can merge into a newer
/// version of its file: records with unique ids, each at a byte range of the
/// bytes the document was parsed from.
public protocol RecordDocument: Sendable {
    /// Parses and validates a document (the commit uses it to read the
    /// version on disk when it differs from the loaded one).
    init(parsing bytes: [UInt8], path: String) throws(StoreError)
    /// The bytes the document was parsed from; empty for one built in memory.
    var sourceBytes: [UInt8] { get }
    /// Where the record with `id` was in `sourceBytes` when parsed (edits
    /// made since do not move it), or nil if there is none.
    func sourceLocation(ofRecord id: String) -> RecordLocation?
    /// `sourceLocation(ofRecord:)` with the position the caller believes
    /// the record has: a document can answer from it without a search (the
    /// default ignores it).
    func sourceLocation(ofRecord id: String, near position: Int?) -> RecordLocation?
    /// Whether the document differs from `sourceBytes` (nothing is written
    /// when it does not).
    var hasChanges: Bool { get }
    /// The bytes to write.
    func serialized() -> [UInt8]
    /// The bytes of `serialized()` handed to `sink` in order, in pieces, so
    /// that a commit can write them without a second copy of the document
    /// in memory. The default hands over `serialized()` in one piece.
    /// - Parameter sink: takes the next piece (valid only during the call);
    ///   returns false to stop.
    /// - Returns: false if `sink` stopped it.
    func serialized(into sink: (UnsafeRawBufferPointer) -> Bool) -> Bool
}

extension RecordDocument {
    /// Searches by id; the position is not used.
    public func sourceLocation(ofRecord id: String, near position: Int?) -> RecordLocation? {
        sourceLocation(ofRecord: id)
    }

    /// `serialized()` in one piece.
    public func serialized(into sink: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        serialized().withUnsafeBytes { sink($0) }
    }
}

/// A document of this module that keeps the bytes it was loaded from in a
/// `StoreSource` (`SessionStore`, `StoreIndex`): a commit holds that source
/// rather than asking `sourceBytes` for a copy of them.
protocol LoadedSourceHolder {
    var loadedSource: StoreSource? { get }
}

/// The bytes a document was loaded from, taken by a commit before it
/// applies any change (so that even an `apply` that broke its contract by
/// replacing the document cannot change what the file is compared with).
enum LoadedBytes {
    case source(StoreSource)
    case array([UInt8])

    init<Document: RecordDocument>(of document: Document) {
        if let source = (document as? any LoadedSourceHolder)?.loadedSource {
            self = .source(source)
        } else {
            self = .array(document.sourceBytes)
        }
    }

    func withBytes<R, E: Error>(_ body: (UnsafeBufferPointer<UInt8>) throws(E) -> R) throws(E) -> R {
        switch self {
        case .source(let source): try source.withBytes(body)
        case .array(let bytes): try bytes.withUnsafeBufferPointer { buffer throws(E) -> R in try body(buffer) }
        }
    }
}

/// A record's place in the bytes its document was parsed from.
public struct RecordLocation: Sendable, Hashable {
    /// The record's position among the document's records.
    public var position: Int
    /// Its bytes.
    public var range: Range<Int>

    /// Creates a location.
    public init(position: Int, range: Range<Int>) {
        self.position = position
        self.range = range
    }
}

/// One decision to commit, about one record.
public struct RecordChange: Sendable, Hashable {
    // (Declared in this order so that a change takes 32 bytes, not 40: a
    // commit holds one per decided record.)
    /// Where the caller found the record among the loaded document's
    /// records, if it knows: saves a search by id. A wrong hint costs the
    /// search, never a wrong record (the id decides).
    public var position: Int?
    /// Whether the record is edited (false: only checked to be unchanged,
    /// e.g. before launching a worker for it).
    public var writes: Bool
    /// The record's id.
    public var id: String

    /// A change to the record with `id`; `writes: false` only checks it.
    public init(id: String, writes: Bool = true, position: Int? = nil) {
        self.id = id
        self.writes = writes
        self.position = position
    }
}

/// What became of one `RecordChange`.
public enum RecordVerdict: String, Sendable, Hashable {
    /// The record was byte for byte what the decision was made from: the
    /// edit is in the committed file (for a check: the record is unchanged).
    case applied
    /// Another writer changed the record meanwhile; nothing was applied to it.
    case changed
    /// Another writer removed the record meanwhile.
    case removed
}

/// The outcome of a compare-and-set commit.
public struct CommitReport: Sendable {
    /// One verdict per change, in the order given.
    public var verdicts: [RecordVerdict]
    /// Whether a new version of the file was written.
    public var wrote: Bool
    /// Whether the file had changed since it was loaded (so the changes were
    /// merged into another writer's version).
    public var merged: Bool
    /// How long the lock was held; nil when no lock was needed (nothing to write).
    public var lockHeld: Duration?
}

extension StoreFile {
    /// Commits per-record changes decided on a document loaded earlier,
    /// without losing anything another writer saved meanwhile.
    ///
    /// `apply` is called with the change's index and the record's position,
    /// first on `document` (before the lock is taken) and, if the file
    /// changed since it was loaded, again on the newer version, only for the
    /// records that are still byte for byte as loaded. It must change only
    /// that record. A commit whose changes only check (`writes: false`)
    /// takes no lock and writes nothing.
    ///
    /// - Parameters:
    ///   - document: the loaded document; on return it holds the edits as
    ///     applied to the loaded version (load the file again to go on).
    ///   - changes: the decisions; every id must name a record of `document`.
    ///   - lockProtocol: the lock every writer of this store takes.
    ///   - lockTimeout: how long to wait for it.
    ///   - strictLinks: refuse a store file with other hard links instead of
    ///     replacing it with a notice.
    ///   - notice: told about a symlinked store, a broken stale lock, other
    ///     hard links, and stale temporary files removed.
    /// - Returns: a verdict per change, and what was written.
    /// - Throws: `.locked` if the lock was not obtained (or the task was
    ///   cancelled while waiting); `.invalidData` if another writer left an
    ///   invalid document; `.cannotWrite`/`.notFound` as `commit(_:holding:)`.
    ///   Nothing was written when it throws before the rename.
    public func commit<Document: RecordDocument, Changes: RandomAccessCollection<RecordChange>>(
        _ document: inout Document,
        changes: Changes,
        lock lockProtocol: StoreLockProtocol = .flock,
        lockTimeout: Duration = .seconds(5),
        strictLinks: Bool = false,
        notice: (StoreNotice) -> Void = { _ in },
        apply: (inout Document, _ change: Int, _ position: Int) -> Void
    ) async throws(StoreError) -> CommitReport {
        // Positions only: a merge finds each record's loaded bytes again
        // through `sourceLocation`, which edits do not move. One pass over
        // `changes` (a lazy collection may make each change as it goes).
        var positions: [Int] = []
        positions.reserveCapacity(changes.count)
        var writes: [Bool] = []
        writes.reserveCapacity(changes.count)
        for change in changes {
            guard let location = document.sourceLocation(ofRecord: change.id, near: change.position) else {
                preconditionFailure("commit: no record \(change.id) in the loaded document")
            }
            positions.append(location.position)
            writes.append(change.writes)
        }
        return try await commit(&document, positions: positions, writes: writes,
                                id: { changes[changes.index(changes.startIndex, offsetBy: $0)].id },
                                lock: lockProtocol, lockTimeout: lockTimeout, strictLinks: strictLinks, notice: notice, apply: apply)
    }

    /// The commit of changes already located: change `n` is about the
    /// record at `positions[n]` of the loaded document, whose id `id(n)`
    /// gives (asked only when the file changed since it was loaded: the
    /// record is then found by its id in the newer version).
    func commit<Document: RecordDocument>(
        _ document: inout Document,
        positions: [Int],
        writes: [Bool],
        id: (Int) -> String,
        lock lockProtocol: StoreLockProtocol,
        lockTimeout: Duration,
        strictLinks: Bool,
        notice: (StoreNotice) -> Void,
        apply: (inout Document, _ change: Int, _ position: Int) -> Void
    ) async throws(StoreError) -> CommitReport {
        let loaded = LoadedBytes(of: document)
        for index in positions.indices where writes[index] {
            apply(&document, index, positions[index])
        }
        let writing = writes.contains(true)
        let location = try resolveTarget(notice: notice)

        guard writing else {
            return try checkOnly(document, loaded, positions: positions, writes: writes, id: id, at: location, apply: apply)
        }

        // Written (and synced) before the lock, streamed from the loaded
        // bytes: in the common case the file has not changed and this
        // temporary file only has to be renamed.
        var pending: PreparedTemporary? // not yet renamed (removed on every exit)
        defer { if let pending { _ = system_unlink(pending.path) } }
        if document.hasChanges { pending = try prepareTemporary(for: document, at: location, notice: notice) }

        let clock = ContinuousClock()
        let lock = try await self.lock(using: lockProtocol, timeout: lockTimeout, notice: notice)
        let locked = clock.now
        // From here on a throw releases the lock as `lock` goes out of scope.
        var keepOpen: Int32 = -1
        defer { if keepOpen >= 0 { _ = system_close(keepOpen) } }
        let current = try readComparing(location.target, with: loaded, keepOpen: &keepOpen)
        var verdicts: [RecordVerdict]
        var wrote = false
        if case .same(let identity) = current {
            verdicts = [RecordVerdict](repeating: .applied, count: positions.count)
            if pending != nil {
                try replace(identity, with: &pending, writing: document, at: location, strictLinks: strictLinks, notice: notice)
                wrote = true
            }
        } else {
            if let temporary = pending {
                _ = system_unlink(temporary.path)
                pending = nil
            }
            let merged = try verdictsAgainst(current, writes: writes, positions: positions, id: id, loaded: document, bytes: loaded,
                                             applyTo: Document.self, apply: apply)
            verdicts = merged.verdicts
            if let newer = merged.document, newer.hasChanges, let identity = current.identity {
                _ = try writeAndRename(at: location, replacing: identity, strictLinks: strictLinks, notice: notice) { descriptor in
                    Self.stream(newer, to: descriptor)
                }
                try syncFolder(location.folder)
                wrote = true
            }
        }
        lock.release()
        let held = clock.now - locked
        return CommitReport(verdicts: verdicts, wrote: wrote, merged: current.differs, lockHeld: held)
    }

    /// A commit whose changes only check: a consistent read is enough
    /// (writers replace the file by rename), and no lock file is made.
    private func checkOnly<Document: RecordDocument>(
        _ document: Document, _ loaded: LoadedBytes, positions: [Int], writes: [Bool], id: (Int) -> String,
        at location: StoreLocation, apply: (inout Document, Int, Int) -> Void
    ) throws(StoreError) -> CommitReport {
        var descriptor: Int32 = -1
        defer { if descriptor >= 0 { _ = system_close(descriptor) } }
        let current = try readComparing(location.target, with: loaded, keepOpen: &descriptor)
        let verdicts = try verdictsAgainst(current, writes: writes, positions: positions, id: id, loaded: document, bytes: loaded,
                                           applyTo: nil, apply: apply)
        return CommitReport(verdicts: verdicts.verdicts, wrote: false, merged: current.differs, lockHeld: nil)
    }

    /// A temporary file written with the document before the lock, and the
    /// mode and owner it was given.
    struct PreparedTemporary {
        let path: String
        let permissions: UInt32
        let owner: uid_t
        let group: gid_t
    }

    /// Writes `document` into a synced temporary file beside the store,
    /// with the store's current mode and owner (0600 and this process's for
    /// a new store).
    func prepareTemporary<Document: RecordDocument>(for document: Document, at location: StoreLocation,
                                                    notice: (StoreNotice) -> Void) throws(StoreError) -> PreparedTemporary {
        var before: FileIdentity?
        if case .success(let info) = system_stat(location.target) { before = FileIdentity(info) }
        removeStaleTemporaries(in: location, notice: notice)
        let permissions = before?.permissions ?? 0o600
        let owner = before.map { ($0.owner, $0.group) }
        let temporary = try writeTemporary(in: location, permissions: permissions, owner: owner) { descriptor in
            Self.stream(document, to: descriptor)
        }
        return PreparedTemporary(path: temporary.path, permissions: permissions,
                                 owner: before?.owner ?? system_geteuid(), group: before?.group ?? system_getegid())
    }

    /// Under the lock, the file unchanged (`identity`): the prepared
    /// temporary file is renamed over it, or, if the file's mode or owner
    /// changed since, the document is written again with the current ones;
    /// then the folder is synced. `pending` is nil afterwards.
    func replace<Document: RecordDocument>(_ identity: FileIdentity, with pending: inout PreparedTemporary?, writing document: Document,
                                           at location: StoreLocation, strictLinks: Bool,
                                           notice: (StoreNotice) -> Void) throws(StoreError) {
        guard let temporary = pending else { return }
        try checkReplaceable(identity, strictLinks: strictLinks, notice: notice)
        if (temporary.permissions, temporary.owner, temporary.group) == (identity.permissions, identity.owner, identity.group) {
            try renameTemporary(temporary.path, over: location)
            pending = nil
        } else {
            _ = system_unlink(temporary.path)
            pending = nil
            _ = try writeAndRename(at: location, replacing: identity, strictLinks: strictLinks, notice: { _ in }) { descriptor in
                Self.stream(document, to: descriptor)
            }
        }
        try syncFolder(location.folder)
    }

    /// Writes `document`'s bytes into `descriptor` as it hands them over
    /// (`RecordDocument.serialized(into:)`).
    static func stream<Document: RecordDocument>(_ document: Document, to descriptor: Int32) -> Result<Void, Errno> {
        var failure: Errno?
        _ = document.serialized { piece in
            if case .failure(let error) = writeInPieces(piece, to: descriptor) {
                failure = error
                return false
            }
            return true
        }
        if let failure { return .failure(failure) }
        return .success(())
    }

    /// The file as it is now, compared with the loaded bytes.
    enum CurrentVersion {
        /// Byte for byte the loaded version.
        case same(FileIdentity)
        /// Another version, with its bytes.
        case different([UInt8], FileIdentity)
        /// No file any more.
        case missing

        var identity: FileIdentity? {
            switch self {
            case .same(let identity), .different(_, let identity): identity
            case .missing: nil
            }
        }

        var differs: Bool {
            if case .same = self { return false }
            return true
        }
    }

    /// `readComparing(_:with:keepOpen:)` against the bytes a document was loaded from.
    func readComparing(_ target: String, with loaded: LoadedBytes, keepOpen: inout Int32) throws(StoreError) -> CurrentVersion {
        try loaded.withBytes { bytes throws(StoreError) in try readComparing(target, with: bytes, keepOpen: &keepOpen) }
    }

    /// Reads the file at `target` and compares it with `loaded` as it goes,
    /// in chunks: the common "unchanged" answer needs no second copy of the
    /// store in memory.
    /// - Parameter keepOpen: receives the open descriptor (-1 if none); the
    ///   caller closes it, so it decides when the replaced file is freed.
    func readComparing(_ target: String, with loaded: UnsafeBufferPointer<UInt8>, keepOpen: inout Int32) throws(StoreError) -> CurrentVersion {
        let descriptor: Int32
        switch system_open(target, O_RDONLY | O_NOCTTY | O_NONBLOCK) {
        case .success(let fd): descriptor = fd
        case .failure(let error) where error == .noSuchFile: return .missing
        case .failure(let error): throw StoreError.fromErrno(error, path: path, doing: "cannot open")
        }
        keepOpen = descriptor
        let identity: FileIdentity
        switch system_fstat(descriptor) {
        case .success(let info): identity = FileIdentity(info)
        case .failure(let error): throw StoreError.fromErrno(error, path: path, doing: "cannot stat")
        }
        guard identity.isRegularFile else { throw StoreError(.cannotWrite, path: path, message: "not a regular file") }
        if identity.size != loaded.count {
            switch Self.readToEnd(descriptor, expectedSize: identity.size) {
            case .success(let bytes): return bytes.elementsEqual(loaded) ? .same(identity) : .different(bytes, identity)
            case .failure(let error): throw StoreError.fromErrno(error, path: path, doing: "cannot read")
            }
        }
        var chunk = [UInt8](repeating: 0, count: 1 << 18)
        var offset = 0
        while true {
            let read: Int
            switch chunk.withUnsafeMutableBytes({ system_read(descriptor, $0) }) {
            case .success(let count): read = count
            case .failure(let error): throw StoreError.fromErrno(error, path: path, doing: "cannot read")
            }
            if read == 0 {
                return offset == loaded.count ? .same(identity) : .different(Array(loaded[..<offset]), identity)
            }
            let equal = offset + read <= loaded.count && chunk.withUnsafeBytes { now in
                memcmp(now.baseAddress!, loaded.baseAddress! + offset, read) == 0
            }
            if !equal {
                // From here on it is another version: keep what matched, read the rest.
                var bytes = Array(loaded[..<offset])
                bytes.append(contentsOf: chunk[..<read])
                if let error = Self.readRest(descriptor, appendingTo: &bytes) {
                    throw StoreError.fromErrno(error, path: path, doing: "cannot read")
                }
                return .different(bytes, identity)
            }
            offset += read
        }
    }

    /// Verdicts for `changes` against a version that is not the loaded one;
    /// with `applyTo`, the applicable changes applied to that version.
    private func verdictsAgainst<Document: RecordDocument>(
        _ current: CurrentVersion,
        writes: [Bool],
        positions: [Int],
        id: (Int) -> String,
        loaded document: Document,
        bytes loaded: LoadedBytes,
        applyTo: Document.Type?,
        apply: (inout Document, Int, Int) -> Void
    ) throws(StoreError) -> (verdicts: [RecordVerdict], document: Document?) {
        switch current {
        case .same:
            return ([RecordVerdict](repeating: .applied, count: positions.count), nil)
        case .missing:
            return ([RecordVerdict](repeating: .removed, count: positions.count), nil)
        case .different(let bytes, _):
            var newer: Document
            do throws(StoreError) {
                newer = try Document(parsing: bytes, path: path)
            } catch {
                throw StoreError(.invalidData, path: path, message: "another writer left a document that is not valid; nothing written (\(error.message))")
            }
            var verdicts: [RecordVerdict] = []
            verdicts.reserveCapacity(positions.count)
            for index in positions.indices {
                let recordID = id(index)
                guard let now = newer.sourceLocation(ofRecord: recordID) else {
                    verdicts.append(.removed)
                    continue
                }
                guard let before = document.sourceLocation(ofRecord: recordID, near: positions[index])?.range else {
                    preconditionFailure("commit: record \(recordID) left the loaded document")
                }
                let unchanged = loaded.withBytes { was in
                    now.range.count == before.count && bytes[now.range].elementsEqual(was[before])
                }
                guard unchanged else {
                    verdicts.append(.changed)
                    continue
                }
                verdicts.append(.applied)
                if applyTo != nil && writes[index] { apply(&newer, index, now.position) }
            }
            return (verdicts, applyTo == nil ? nil : newer)
        }
    }
}

// MARK: - Vigil's store as a RecordDocument

extension SessionStore: RecordDocument {
    /// The bytes this document was read from (or last written to).
    /// A copy when the store was read into pages of its own (a file of 2 MiB
    /// or more); the commit itself reads them without one.
    public var sourceBytes: [UInt8] { layout?.source.arrayCopy ?? [] }

    /// Where the record with `id` was in `sourceBytes`.
    public func sourceLocation(ofRecord id: String) -> RecordLocation? {
        guard let layout, let position = layout.idIndex.position(of: id, in: layout.ids) else { return nil }
        return RecordLocation(position: position, range: layout.recordRanges[position])
    }

    /// Where the record with `id` was in `sourceBytes`: checked at
    /// `position` first (ids are unique in a loaded document), then searched.
    public func sourceLocation(ofRecord id: String, near position: Int?) -> RecordLocation? {
        guard let position, let ranges = layout?.recordRanges, ranges.indices.contains(position) else {
            return sourceLocation(ofRecord: id)
        }
        // The id the record was loaded with decides, not its id now (an id
        // changed in memory must not lend its position to another).
        guard let ids = layout?.ids, ids.indices.contains(position), ids[position].utf8.elementsEqual(id.utf8) else {
            return sourceLocation(ofRecord: id)
        }
        return RecordLocation(position: position, range: ranges[position])
    }

    /// The document's bytes in pieces: unchanged stretches straight from the
    /// loaded buffer, modified records patched into a reused chunk (`SplicedOutput`).
    public func serialized(into sink: (UnsafeRawBufferPointer) -> Bool) -> Bool {
        streamSerialized(sink)
    }

    /// Whether writing the document now would change its bytes.
    public var hasChanges: Bool {
        guard let layout else { return true }
        return otherFields != layout.otherFields || !recordsAreInPlace(layout) || records.contains { $0.isModified }
    }
}

extension SessionStore: LoadedSourceHolder {
    var loadedSource: StoreSource? { layout?.source }
}
