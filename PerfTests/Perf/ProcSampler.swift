#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Samples this process's thread count (`Threads:` in /proc/self/status) and
/// open descriptors (entries of /proc/self/fd) from a thread of its own,
/// about once a millisecond, and keeps the peaks.
///
/// A plain pthread rather than a task: a task would compete for the same
/// cooperative threads whose load it is measuring, and would stall exactly
/// when they are busy. The sampler's own thread is part of every count, its
/// directory descriptor is not.
final class ProcSampler: Sendable {
    struct Peaks: Sendable {
        let threads: Int
        let descriptors: Int
        let samples: Int
    }

    private let interval: Duration
    private let stopping = Atomic<Bool>(false)
    private let peakThreads = Atomic<Int>(0)
    private let peakDescriptors = Atomic<Int>(0)
    private let sampleCount = Atomic<Int>(0)
    private let thread = Mutex<pthread_t?>(nil)

    init(interval: Duration = .milliseconds(1)) {
        self.interval = interval
    }

    /// Starts sampling. - Throws: `BenchError` when no thread can be made.
    func start() throws {
        let context = Unmanaged.passRetained(self).toOpaque()
        var handle = pthread_t()
        let rc = pthread_create(&handle, nil, { raw in
            let sampler = Unmanaged<ProcSampler>.fromOpaque(raw!).takeRetainedValue()
            sampler.loop()
            return nil
        }, context)
        if rc != 0 {
            Unmanaged<ProcSampler>.fromOpaque(context).release()
            throw BenchError("cannot start the sampler thread: errno \(rc)")
        }
        thread.withLock { $0 = handle }
    }

    /// Stops sampling, waits for the thread and returns the peaks seen.
    func stop() -> Peaks {
        stopping.store(true, ordering: .releasing)
        if let handle = thread.withLock({ t -> pthread_t? in defer { t = nil }; return t }) {
            pthread_join(handle, nil)
        }
        return Peaks(threads: peakThreads.load(ordering: .acquiring),
                     descriptors: peakDescriptors.load(ordering: .acquiring),
                     samples: sampleCount.load(ordering: .acquiring))
    }

    private func loop() {
        let (seconds, attoseconds) = interval.components
        var pause = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !stopping.load(ordering: .acquiring) {
            let threads = threadCount(buffer: &buffer)
            let descriptors = openDescriptorCount()
            peakThreads.max(threads)
            peakDescriptors.max(descriptors)
            sampleCount.add(1, ordering: .relaxed)
            nanosleep(&pause, nil)
        }
    }
}

extension Atomic<Int> {
    /// Raises the stored value to `value` if it is larger.
    fileprivate func max(_ value: Int) {
        var current = load(ordering: .relaxed)
        while value > current {
            let (exchanged, original) = compareExchange(expected: current, desired: value, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }
}

// MARK: - /proc readers

/// `Threads:` from /proc/self/status; -1 when unreadable.
func threadCount() -> Int {
    var buffer = [UInt8](repeating: 0, count: 4096)
    return threadCount(buffer: &buffer)
}

private func threadCount(buffer: inout [UInt8]) -> Int {
    let n = readFile("/proc/self/status", into: &buffer)
    guard n > 0 else { return -1 }
    let key = Array("\nThreads:".utf8)
    var i = 0
    while i + key.count <= n {
        if buffer[i] == key[0] && Array(buffer[i..<(i + key.count)]) == key {
            var j = i + key.count
            while j < n && (buffer[j] == 0x20 || buffer[j] == 0x09) { j += 1 }
            var value = 0
            while j < n && buffer[j] >= 0x30 && buffer[j] <= 0x39 { value = value * 10 + Int(buffer[j] - 0x30); j += 1 }
            return value
        }
        i += 1
    }
    return -1
}

/// Open descriptors of this process (entries of /proc/self/fd, less the
/// directory's own descriptor); -1 when unreadable.
func openDescriptorCount() -> Int {
    guard let dir = opendir("/proc/self/fd") else { return -1 }
    var n = 0
    while let entry = readdir(dir) {
        if entry.pointee.d_name.0 != 0x2E { n += 1 } // skip "." and ".."
    }
    closedir(dir)
    return n - 1
}

/// Children of this process that are zombies (state `Z` in /proc/PID/stat
/// with our pid as parent): children nobody reaped.
func zombieChildren() -> Int {
    guard let dir = opendir("/proc") else { return -1 }
    defer { closedir(dir) }
    let me = Int(getpid())
    var buffer = [UInt8](repeating: 0, count: 1024)
    var zombies = 0
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
        }
        guard let first = name.utf8.first, first >= 0x30 && first <= 0x39 else { continue }
        let n = readFile("/proc/\(name)/stat", into: &buffer)
        guard n > 0, let (state, parent) = stateAndParent(buffer[0..<n]) else { continue }
        if state == UInt8(ascii: "Z") && parent == me { zombies += 1 }
    }
    return zombies
}

/// State letter and ppid from a /proc/PID/stat line: `pid (comm) S ppid ...`.
/// The command name may hold spaces and parentheses, so parse after the last ')'.
private func stateAndParent(_ line: ArraySlice<UInt8>) -> (UInt8, Int)? {
    guard let close = line.lastIndex(of: UInt8(ascii: ")")) else { return nil }
    let fields = line[(close + 1)...].split(separator: UInt8(ascii: " "))
    guard fields.count >= 2, let state = fields[0].first,
          let parent = Int(String(decoding: fields[1], as: UTF8.self)) else { return nil }
    return (state, parent)
}

/// Reads up to `buffer.count` bytes of `path`; returns the count, or -1.
private func readFile(_ path: String, into buffer: inout [UInt8]) -> Int {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return -1 }
    defer { close(fd) }
    var total = 0
    while total < buffer.count {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + total, $0.count - total) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        total += n
    }
    return total
}
