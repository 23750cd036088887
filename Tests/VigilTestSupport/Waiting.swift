// Waiting, bounded, for something a real process does on its own time.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif // canImport(Glibc)

// MARK: - Waiting

/// Sleeps the calling thread for `milliseconds` (the whole time, across EINTR).
public func pause(milliseconds: Int) {
    var request = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
    var remaining = timespec()
    while nanosleep(&request, &remaining) == -1 && errno == EINTR { request = remaining }
}

/// Polls `condition` every 10 ms for up to `milliseconds`.
/// - Returns: whether it came true.
public func waitUntil(milliseconds: Int, _ condition: () -> Bool) -> Bool {
    var waited = 0
    while waited < milliseconds {
        if condition() { return true }
        pause(milliseconds: 10)
        waited += 10
    }
    return condition()
}

/// `waitUntil` for async tests: polls every 10 ms with `Task.sleep`, holding
/// no thread of the cooperative pool between polls.
/// - Returns: whether it came true.
public func eventually(milliseconds: Int = 5000, _ condition: () -> Bool) async -> Bool {
    var waited = 0
    while waited < milliseconds {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
        waited += 10
    }
    return condition()
}

/// Waits (bounded) until `path` exists: fixtures and workers run on their own time.
/// - Returns: whether it appeared.
public func waitForFile(_ path: String, milliseconds: Int = 5000) -> Bool {
    waitUntil(milliseconds: milliseconds) { access(path, F_OK) == 0 }
}
