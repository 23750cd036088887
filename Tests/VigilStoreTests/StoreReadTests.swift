// Reading the store file: a big file is read in two halves at once (the
// second on another thread), and the bytes must be the file's, whether the
// file is the size fstat said, grew since, or shrank since.

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

    /// The file at `path` read with `expectedSize` as fstat's size.
    func read(_ path: String, expectedSize: Int) throws -> [UInt8] {
        let descriptor = open(path, O_RDONLY)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        return try StoreFile.readToEnd(descriptor, expectedSize: expectedSize).get()
    }

    @Test("a big file read in two halves gives its bytes: as big as expected, grown since, shrunk since")
    func twoHalves() throws {
        let dir = try TemporaryDirectory("store-read")
        let size = StoreFile.twoPartReadThreshold + 1_234_567
        let bytes = randomBytes(size, seed: 41)
        let path = dir.file("big.json")
        try writeFile(path, bytes)
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
}
