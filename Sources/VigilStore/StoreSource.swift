// The bytes a document was read from, shared by every record that points
// into them: an array, or pages mapped for them alone.
//
// Why pages: memory a process touches for the first time is faulted in one
// 4 KiB page at a time, and on a virtual machine such as the one figure 9
// runs on a fault costs several microseconds. Reading a 2.5 MB store into a
// fresh malloc'd buffer took 2.9 ms there, into transparent huge pages
// 0.56 ms (a C loop, 300 forked readers each); at 25 MB, 32.8 ms against
// 8.2 ms. So a store file of `StoreSource.pagesFrom` bytes or more is read
// into a private anonymous mapping that asks for huge pages. The hint is
// given on that mapping only, which is unmapped when the source dies: no
// advice is left on memory the host's allocator could hand out later.
// (Where the kernel's THP `defrag` setting is `madvise`, a common default,
// the first touch of such a page may compact memory to find one; it takes
// small pages when it cannot.)

import Synchronization
import VigilSystem

/// The immutable bytes of a loaded (or just written) document.
///
/// Immutable once made (the pages are written only while the file is read,
/// before the source exists), hence `@unchecked Sendable`; the arena after
/// the bytes is handed out with an atomic count.
final class StoreSource: @unchecked Sendable {
    /// The bytes when they came as an array (empty for pages).
    private let array: [UInt8]
    /// The mapping that holds the bytes, when they are in pages of their own.
    private let mapping: UnsafeMutableRawBufferPointer?
    /// Where the bytes start in `mapping`.
    private let start: UnsafePointer<UInt8>?
    /// The number of bytes.
    let count: Int
    /// The rest of the pages after the bytes: memory for the index built
    /// from them (`allocate`), already faulted in with the pages it shares.
    private let arena: UnsafeMutableRawBufferPointer
    /// Bytes of `arena` handed out.
    private let arenaUsed = Atomic<Int>(0)
    /// A thread started while the bytes were read, for the reader of the
    /// document to take (`takeHelper`).
    private let helper: Mutex<ParkedThread?>

    init(_ bytes: [UInt8]) {
        array = bytes
        mapping = nil
        start = nil
        count = bytes.count
        arena = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        helper = Mutex(nil)
    }

    /// The first `count` bytes of `pages`, which the source owns from now
    /// on, with the thread `helper` started for the reader of the document.
    init(_ pages: Pages, count: Int, helper: ParkedThread? = nil) {
        precondition(count <= pages.buffer.count)
        array = []
        mapping = pages.mapping
        start = UnsafePointer(pages.buffer.baseAddress!)
        self.count = count
        arena = pages.arena
        self.helper = Mutex(helper)
    }

    /// The thread started for the document's reader while the bytes were
    /// read, once (nil afterwards, or when there is none). The reader gives
    /// it parts of a big `sessions` array to read, or ends it. (One not
    /// taken ends with the source.)
    func takeHelper() -> ParkedThread? {
        helper.withLock { helper in
            defer { helper = nil }
            return helper
        }
    }

    deinit {
        if let mapping { system_unmap(mapping) }
    }

    /// Calls `body` with the bytes. (A method, so that a caller holding the
    /// source unowned reads them without counting a reference to the array:
    /// restore's two threads call this for every record.)
    @inline(__always)
    func withBytes<R, E: Error>(_ body: (UnsafeBufferPointer<UInt8>) throws(E) -> R) throws(E) -> R {
        if let start { return try body(UnsafeBufferPointer(start: start, count: count)) }
        return try array.withUnsafeBufferPointer { buffer throws(E) -> R in try body(buffer) }
    }

    /// `count` values of `type` (a trivial type: nothing to end when the
    /// source unmaps it) from the arena, for as long as the source lives;
    /// nil when it has no room left (or no arena). Any thread may ask.
    func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T>? {
        precondition(_isPOD(T.self), "StoreSource.allocate: \(T.self) is not a trivial type")
        let alignment = max(MemoryLayout<T>.alignment, 16)
        let size = count * MemoryLayout<T>.stride
        var used = arenaUsed.load(ordering: .relaxed)
        while true {
            let offset = (used + alignment - 1) & ~(alignment - 1)
            guard size >= 0, offset + size <= arena.count, let base = arena.baseAddress else { return nil }
            let (exchanged, original) = arenaUsed.compareExchange(expected: used, desired: offset + size, ordering: .relaxed)
            if exchanged { return (base + offset).bindMemory(to: T.self, capacity: count) }
            used = original
        }
    }

    /// Whether `pointer` is in the arena.
    func arenaHolds(_ pointer: UnsafeRawPointer) -> Bool {
        guard let base = arena.baseAddress else { return false }
        return pointer >= UnsafeRawPointer(base) && pointer < UnsafeRawPointer(base + arena.count)
    }

    /// Whether the bytes are in pages of their own.
    var inPages: Bool { start != nil }

    /// A copy of the bytes as an array (none when they came as one).
    var arrayCopy: [UInt8] { start == nil ? array : withBytes { Array($0) } }

    /// The size of a huge page on x86-64 and arm64 Linux.
    static let hugePage = 2 << 20

    /// Files from this size are read into pages of their own (one huge
    /// page; below it a malloc'd array costs no more).
    static let pagesFrom = hugePage

    /// Writable pages for a file being read: a private anonymous mapping,
    /// its usable part aligned on 2 MiB and advised to use huge pages where
    /// the system has them. Unmapped by the `StoreSource` made from it, or
    /// by `release()` if none is.
    struct Pages: @unchecked Sendable {
        let mapping: UnsafeMutableRawBufferPointer
        /// The usable part: at least the capacity asked for.
        let buffer: UnsafeMutableBufferPointer<UInt8>
        /// The pages after `buffer`: at least the arena asked for.
        let arena: UnsafeMutableRawBufferPointer

        /// Maps room for `capacity` bytes and an arena of `arena` bytes
        /// after them; nil when the mapping fails (the caller reads into an
        /// array instead).
        init?(capacity: Int, arena: Int = 0) {
            guard capacity >= 0, arena >= 0 else { return nil }
            let hugePage = StoreSource.hugePage
            let arenaStart = (capacity + 63) & ~63
            // Whole huge pages: a last one cut short by the end of the
            // mapping would be faulted in 4 KiB at a time. One huge page
            // more, so that an aligned start leaves them all; the unused
            // head and tail are address space only.
            let pages = (arenaStart + arena + hugePage - 1) / hugePage * hugePage
            let length = pages + hugePage
            guard let base = system_mapAnonymous(length) else { return nil }
            let skipped = Int((UInt(bitPattern: base) + UInt(hugePage - 1)) & ~UInt(hugePage - 1) - UInt(bitPattern: base))
            let aligned = base + skipped
            // Without transparent huge pages the pages are ordinary ones.
            system_adviseHugePages(aligned, pages)
            mapping = UnsafeMutableRawBufferPointer(start: base, count: length)
            buffer = UnsafeMutableBufferPointer(start: aligned.bindMemory(to: UInt8.self, capacity: capacity), count: capacity)
            self.arena = UnsafeMutableRawBufferPointer(start: aligned + arenaStart, count: pages - arenaStart)
        }

        /// Unmaps pages that no source took.
        func release() { system_unmap(mapping) }
    }
}

/// Memory for `count` values of a trivial type for an index built from a
/// source: in the source's arena when it has one with room, malloc'd
/// otherwise. Arena memory is zero when handed out (fresh pages, never
/// handed out twice) and lives as long as `arena`, held here.
struct IndexMemory<T> {
    let base: UnsafeMutablePointer<T>
    /// The source whose arena holds `base`; nil when `base` is malloc'd.
    let arena: StoreSource?

    init(count: Int, preferring source: StoreSource?) {
        if let source, let memory = source.allocate(T.self, count: count) {
            (base, arena) = (memory, source)
        } else {
            (base, arena) = (.allocate(capacity: count), nil)
        }
    }

    /// Frees malloc'd memory (arena memory goes with its source).
    func release() {
        if arena == nil { base.deallocate() }
    }
}
