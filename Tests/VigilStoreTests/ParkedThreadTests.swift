// The thread a big store's source starts while the file is read, for the
// reader's parts: it runs the body it is given on a thread of its own,
// ends without one when joined first, and a reading of the document always
// takes it (uses it or ends it), so no thread is left waiting.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import Testing
@testable import VigilStore
import VigilSystem
import VigilTestSupport

@Suite struct ParkedThreadTests {
    @Test("a parked thread runs the body it is given once, on a thread of its own, before join returns")
    func runsItsBody() throws {
        let runs = Atomic<Int>(0)
        let elsewhere = Atomic<Bool>(false)
        let caller = pthread_self()
        let thread = try #require(ParkedThread.start())
        thread.begin {
            runs.add(1, ordering: .relaxed)
            elsewhere.store(pthread_equal(pthread_self(), caller) == 0, ordering: .relaxed)
        }
        thread.begin { runs.add(10, ordering: .relaxed) }
        thread.join()
        let count = runs.load(ordering: .relaxed)
        let onItsOwnThread = elsewhere.load(ordering: .relaxed)
        #expect(count == 1)
        #expect(onItsOwnThread)
    }

    @Test("joined without a body, a parked thread ends and runs none given later")
    func endsWithoutABody() throws {
        let runs = Atomic<Int>(0)
        let thread = try #require(ParkedThread.start())
        thread.join()
        thread.begin { runs.add(1, ordering: .relaxed) }
        thread.join()
        let count = runs.load(ordering: .relaxed)
        #expect(count == 0)
    }

    @Test("waitForBody returns once the body has returned, whether it took less or more than the spin, and without a body at once",
          arguments: [0, 30])
    func waitsForTheBody(sleepMilliseconds: Int) throws {
        #expect(ParkedThread.spinLimit < .milliseconds(30))
        let runs = Atomic<Int>(0)
        let thread = try #require(ParkedThread.start())
        thread.begin {
            usleep(UInt32(sleepMilliseconds * 1000))
            runs.add(1, ordering: .relaxed)
        }
        thread.waitForBody()
        let count = runs.load(ordering: .relaxed)
        #expect(count == 1)

        let idle = try #require(ParkedThread.start())
        idle.waitForBody()
        idle.begin { runs.add(1, ordering: .relaxed) }
        idle.join()
        let after = runs.load(ordering: .relaxed)
        #expect(after == 1)
    }

    @Test("a big store's source starts a helper thread, and reading the document takes it: its parts read there too, or the thread ended")
    func theReaderTakesTheHelper() throws {
        let directory = try TemporaryDirectory()
        // Over 2 MiB: read into pages of its own (`StoreSource.pagesFrom`), and split.
        let records = (0..<24_000).map { #"{"id": "r\#($0)", "backend": "tmux", "status": "closed", "socket": "s", "title": "a title"}"# }
        let path = try directory.write("store.json", #"{"version": 1, "sessions": ["# + records.joined(separator: ",\n") + "]}\n")
        let twoProcessors = system_onlineProcessors() > 1
        var info = stat()
        #expect(stat(path, &info) == 0 && Int(info.st_size) >= StoreSource.pagesFrom)
        for parallelFrom in [storeSplitThreshold, Int.max] {
            let source = try StoreFile(path: path).readSource().get().0
            let scan = try readStore(source, path: path, into: IndexSink(source: source), parallelFrom: parallelFrom)
            #expect(scan.sink.records.count == records.count)
            // Split (with two processors) only where asked; either way the helper is gone.
            #expect(scan.readInParts == (twoProcessors && parallelFrom != Int.max))
            #expect(source.takeHelper() == nil)
        }
        // A helper no reader took ends with its source.
        let source = try StoreFile(path: path).readSource().get().0
        #expect((source.takeHelper() != nil) == twoProcessors)
    }
}
