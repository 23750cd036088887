// Reading the store file: a big file is read in two halves at once (the
// second on another thread), one of 2 MiB or more into pages of its own
// (`StoreSource`), and the bytes must be the file's, whether the file is the
// size fstat said, grew since, or shrank since.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing
@testable import VigilStore
import VigilTestSupport

@Suite struct StoreReadTests {
    /// `count` bytes, each a function of its position and `seed` that no
    /// page-sized shift repeats.
    func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
            for i in 0..<count {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                buffer[i] = UInt8(truncatingIfNeeded: state >> 33)
            }
            initialized = count
        }
    }

    /// A file of `size` random bytes (`randomBytes`) in a new temporary
    /// folder, which lives as long as the returned value.
    func randomFile(_ folder: String, size: Int, seed: UInt64) throws -> (dir: TemporaryDirectory, path: String, bytes: [UInt8]) {
        let dir = try TemporaryDirectory(folder)
        let bytes = randomBytes(size, seed: seed)
        let path = dir.file("big.json")
        try writeFile(path, bytes)
        return (dir, path, bytes)
    }

    /// `reader` run on the file at `path`, opened for reading.
    func reading<T, E: Error>(_ path: String, _ reader: (Int32) -> Result<T, E>) throws -> T {
        let descriptor = open(path, O_RDONLY)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        return try reader(descriptor).get()
    }

    /// The file at `path` read with `expectedSize` as fstat's size.
    func read(_ path: String, expectedSize: Int) throws -> [UInt8] {
        try reading(path) { StoreFile.readToEnd($0, expectedSize: expectedSize) }
    }

    @Test("a big file read in two halves gives its bytes: as big as expected, grown since, shrunk since")
    func twoHalves() throws {
        let size = StoreFile.twoPartReadThreshold + 1_234_567
        let (dir, path, bytes) = try randomFile("store-read", size: size, seed: 41)
        defer { withExtendedLifetime(dir) {} }
        // As fstat said; grown by 1 MiB since; shrunk by 1 MiB since (the
        // second half comes up short); shrunk to under half (the first does).
        for expected in [size, size - (1 << 20), size + (1 << 20), 2 * size + 3] {
            let read = try read(path, expectedSize: expected)
            #expect(read.count == size, "expected size \(expected)")
            let same = read == bytes // (not printed whole when it fails)
            #expect(same, "expected size \(expected): first difference at \(String(describing: read.indices.first { $0 >= bytes.count || read[$0] != bytes[$0] }))")
        }
    }

    @Test("the halves meet on a page boundary and every byte lands once, whatever the size")
    func oddSizes() throws {
        let dir = try TemporaryDirectory("store-read-sizes")
        for (n, size) in [StoreFile.twoPartReadThreshold, StoreFile.twoPartReadThreshold + 1, StoreFile.twoPartReadThreshold + 4095,
                          StoreFile.twoPartReadThreshold + 8193].enumerated() {
            let bytes = randomBytes(size, seed: UInt64(n))
            let path = dir.file("f\(n)")
            try writeFile(path, bytes)
            let same = try read(path, expectedSize: size) == bytes
            #expect(same, "size \(size)")
        }
    }

    /// The file at `path` read into a `StoreSource` with `expectedSize` as fstat's size.
    func readSource(_ path: String, expectedSize: Int) throws -> StoreSource {
        try reading(path) { StoreFile.readSource($0, expectedSize: expectedSize) }
    }

    @Test("a file of 2 MiB or more is read into pages of its own, with its bytes, whatever its size")
    func pages() throws {
        let dir = try TemporaryDirectory("store-read-pages")
        for (n, size) in [StoreSource.pagesFrom, StoreSource.pagesFrom + 1, StoreSource.pagesFrom + 4095,
                          3 * StoreSource.pagesFrom + 12_345].enumerated() {
            let bytes = randomBytes(size, seed: UInt64(100 + n))
            let path = dir.file("p\(n)")
            try writeFile(path, bytes)
            let source = try readSource(path, expectedSize: size)
            #expect(source.inPages, "size \(size)")
            #expect(source.count == size)
            let same = source.withBytes { $0.elementsEqual(bytes) }
            #expect(same, "size \(size)")
        }
    }

    @Test("a file that grew or shrank since fstat still reads as it is: pages when it ended in them, an array when it grew past them")
    func pagesChangedSize() throws {
        let size = StoreSource.pagesFrom + 1_000_003
        let (dir, path, bytes) = try randomFile("store-read-pages-changed", size: size, seed: 7)
        defer { withExtendedLifetime(dir) {} }
        // fstat said more than there is (shrunk since): read into pages.
        // fstat said less (grew since), still at least 2 MiB: the pages are
        // full before the end, and the rest is read on into an array.
        for (expected, inPages) in [(size + 777, true), (size - 1_000_000, false), (StoreSource.pagesFrom, false)] {
            let source = try readSource(path, expectedSize: expected)
            #expect(source.inPages == inPages, "expected size \(expected)")
            #expect(source.count == size, "expected size \(expected)")
            let same = source.withBytes { $0.elementsEqual(bytes) }
            #expect(same, "expected size \(expected)")
        }
        // Below the threshold: an array, as before.
        let small = try readSource(path, expectedSize: StoreSource.pagesFrom - 1)
        #expect(!small.inPages)
        #expect(small.withBytes { $0.elementsEqual(bytes) })
    }

    @Test("pages that cannot be mapped are no pages: the reader then reads into an array")
    func pagesRefused() {
        // More address space than any machine maps (2^60 bytes): mmap says ENOMEM.
        #expect(StoreSource.Pages(capacity: 1 << 60) == nil)
        // One that can be made, given back unused.
        let pages = StoreSource.Pages(capacity: StoreSource.pagesFrom)
        #expect(pages != nil)
        pages?.release()
    }

    /// A store of `count` records, about 185 bytes each.
    func storeDocument(records count: Int) -> String {
        let records = (0..<count).map { i in
            #"{"id": "sess-\#(i)", "backend": "tmux", "status": "\#(i % 3 == 0 ? "closed" : "active")", "socket": "s", "#
                + #""cliId": "claude", "chatId": \#(100_000 + i), "daemon": {"cwd": "/home/agents/project-\#(i % 53)", "flags": [true, 1.5, null]}}"#
        }
        return #"{"version": 1, "sessions": [\#n"# + records.joined(separator: ",\n") + "\n]}\n"
    }

    @Test("a store read from pages loads, indexes, closes and commits exactly as one parsed from an array")
    func storeFromPages() async throws {
        let text = storeDocument(records: 12_000)
        let bytes = Array(text.utf8)
        try #require(bytes.count >= StoreSource.pagesFrom)
        let dir = try TemporaryDirectory("store-read-pages-store")
        let path = dir.file("sessions.json")
        try writeFile(path, bytes)
        let file = StoreFile(path: path)

        // The index restore reads: from pages, the same records as from an array.
        let index = try file.loadIndex()
        #expect(index.source.inPages)
        // Its records in the pages' arena, beside the bytes; an array's have none.
        #expect(index.records.inArena(of: index.source))
        #expect(index.idIndex.tableInArena(of: index.source))
        let fromArray = try StoreIndex(parsing: bytes)
        #expect(!fromArray.records.inArena(of: fromArray.source))
        #expect(!fromArray.idIndex.tableInArena(of: fromArray.source))
        #expect(index.count == fromArray.count)
        for position in stride(from: 0, to: index.count, by: 997) {
            #expect(index.records[position].range == fromArray.records[position].range)
            #expect(index.records[position].idHash == fromArray.records[position].idHash)
            #expect(index.id(at: position) == fromArray.id(at: position))
            #expect(index.sourceLocation(ofRecord: "sess-\(position)") == fromArray.sourceLocation(ofRecord: "sess-\(position)"))
        }

        // A SessionStore from pages, one record closed and committed: the
        // file is what the same close on an array-parsed store serializes.
        var store = try file.load()
        #expect(store.layout?.source.inPages == true)
        var expected = try SessionStore(parsing: bytes)
        expected.records[4_001].close(at: "2026-12-01T00:00:00Z", reason: "gone")
        let report = try await file.commit(&store, changes: [RecordChange(id: "sess-4001")]) { document, _, position in
            document.records[position].close(at: "2026-12-01T00:00:00Z", reason: "gone")
        }
        #expect(report.verdicts == [.applied] && report.wrote && !report.merged)
        let written = try readFile(path)
        let same = written == expected.serialized() // (not printed whole when it fails)
        #expect(same)
    }

    /// The arena after a source's bytes: aligned pieces that never overlap,
    /// from any thread, until it is full; then nil (the index falls back to
    /// memory of its own).
    @Test func theArenaHandsOutDisjointPiecesUntilFull() async throws {
        let pages = try #require(StoreSource.Pages(capacity: StoreSource.pagesFrom, arena: 1 << 20))
        let source = StoreSource(pages, count: 10)
        let pieces = await withTaskGroup(of: [UInt].self) { group in
            for _ in 0..<2 {
                group.addTask {
                    var got: [UInt] = []
                    while let piece = source.allocate(UInt64.self, count: 100) {
                        got.append(UInt(bitPattern: piece))
                        piece.initialize(repeating: 7, count: 100)
                    }
                    return got
                }
            }
            var all: [UInt] = []
            for await got in group { all += got }
            return all.sorted()
        }
        // 800-byte pieces, 16-aligned, fill it exactly: as many as fit.
        #expect(pieces.count == pages.arena.count / 800)
        #expect(pieces.allSatisfy { $0 % 16 == 0 && source.arenaHolds(UnsafeRawPointer(bitPattern: $0)!) })
        #expect(zip(pieces, pieces.dropFirst()).allSatisfy { $1 - $0 >= 800 }, "no two pieces overlap")
        #expect(source.allocate(UInt8.self, count: 1 << 21) == nil)
        #expect(StoreSource([1, 2, 3]).allocate(UInt8.self, count: 1) == nil, "an array has no arena")
    }

    /// Records that outgrow the arena move to memory of their own and stay
    /// the same records.
    @Test func recordsOutgrowingTheArenaMoveOut() throws {
        // A 10-byte file: the rest of its huge page (2 MiB less 64 bytes) is the arena.
        let pages = try #require(StoreSource.Pages(capacity: 10, arena: 0))
        let source = StoreSource(pages, count: 10)
        var records = IndexedRecords()
        records.reserveCapacity(4, source: source)
        records.append(StoreReaderPartsTests.entry(0), source: source)
        let inArenaAtFirst = records.inArena(of: source)
        records.removeSubrange(from: 0)
        for start in 0..<100_000 { records.append(StoreReaderPartsTests.entry(start), source: source) }
        #expect(records.map { Int($0.start) } == Array(0..<100_000))
        #expect(inArenaAtFirst, "a small reservation fits the rest of the huge page")
        #expect(!records.inArena(of: source), "6.4 MB do not")
    }
}
