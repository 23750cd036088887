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

/// The immutable bytes of a loaded (or just written) document.
///
/// Immutable once made (the pages are written only while the file is read,
/// before the source exists), hence `@unchecked Sendable`.
final class StoreSource: @unchecked Sendable {
    /// The bytes when they came as an array (empty for pages).
    private let array: [UInt8]
    /// The mapping that holds the bytes, when they are in pages of their own.
    private let mapping: UnsafeMutableRawBufferPointer?
    /// Where the bytes start in `mapping`.
    private let start: UnsafePointer<UInt8>?
    /// The number of bytes.
    let count: Int

    init(_ bytes: [UInt8]) {
        array = bytes
        mapping = nil
        start = nil
        count = bytes.count
    }

    /// The first `count` bytes of `pages`, which the source owns from now on.
    init(_ pages: Pages, count: Int) {
        precondition(count <= pages.buffer.count)
        array = []
        mapping = pages.mapping
        start = UnsafePointer(pages.buffer.baseAddress!)
        self.count = count
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

        /// Maps room for `capacity` bytes; nil when the mapping fails (the
        /// caller reads into an array instead).
        init?(capacity: Int) {
            let hugePage = StoreSource.hugePage
            // One huge page more, so that an aligned start leaves `capacity`
            // bytes; the unused head and tail are address space only.
            let length = capacity + hugePage
            guard let base = system_mapAnonymous(length) else { return nil }
            let skipped = Int((UInt(bitPattern: base) + UInt(hugePage - 1)) & ~UInt(hugePage - 1) - UInt(bitPattern: base))
            let aligned = base + skipped
            // Without transparent huge pages the pages are ordinary ones.
            system_adviseHugePages(aligned, length - skipped)
            mapping = UnsafeMutableRawBufferPointer(start: base, count: length)
            buffer = UnsafeMutableBufferPointer(start: aligned.bindMemory(to: UInt8.self, capacity: capacity), count: capacity)
        }

        /// Unmaps pages that no source took.
        func release() { system_unmap(mapping) }
    }
}
