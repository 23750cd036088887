// Tests that start a tmux server on a `default` socket (the server botmux
// uses, under a private TMUX_TMPDIR) share one fact with each other: tmux
// backends look, on "no server", for a server of the same socket name in
// another directory (the listener rule) and name it. A test that asserts
// which server is named must be the only one with a `default` server while
// it runs; the others may run side by side. This is that readers-writer
// lock: the wait suspends the task (no thread of the cooperative pool is
// held), and it covers this test process (one `swift test` run). A server
// that a shared user killed may still hold its socket for a moment after
// `kill-server` returned, so the sole user also waits (bounded) until
// /proc/net/unix shows no `default` tmux socket listening.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif // canImport(Glibc)

/// Shared (`exclusive: false`) or sole (`exclusive: true`) use of `default`
/// tmux sockets by the tests of this process.
public actor DefaultSocketServers {
    /// The one lock of the process.
    public static let lock = DefaultSocketServers()

    private var readers = 0
    private var writer = false
    private var waiting: [(exclusive: Bool, resume: CheckedContinuation<Void, Never>)] = []

    private func canEnter(_ exclusive: Bool) -> Bool {
        exclusive ? !writer && readers == 0 : !writer && !waiting.contains { $0.exclusive }
    }

    private func enter(_ exclusive: Bool) {
        if exclusive { writer = true } else { readers += 1 }
    }

    /// Waits until this use may start.
    public func acquire(exclusive: Bool) async {
        if waiting.isEmpty && canEnter(exclusive) {
            enter(exclusive)
            return
        }
        await withCheckedContinuation { waiting.append((exclusive, $0)) }
    }

    /// Ends one use started with `acquire(exclusive:)`.
    public func release(exclusive: Bool) {
        if exclusive { writer = false } else { readers -= 1 }
        while let next = waiting.first, next.exclusive ? (!writer && readers == 0) : !writer {
            waiting.removeFirst()
            enter(next.exclusive)
            next.resume.resume()
        }
    }
}

/// Runs `body` while holding `DefaultSocketServers.lock` (shared unless
/// `exclusive`), releasing it however `body` ends.
public func withDefaultSocketServers<T>(exclusive: Bool = false, _ body: () async throws -> T) async throws -> T {
    await DefaultSocketServers.lock.acquire(exclusive: exclusive)
    if exclusive {
        var waited = 0
        while !listeningDefaultTmuxSockets().isEmpty && waited < 10_000 {
            try? await Task.sleep(for: .milliseconds(20))
            waited += 20
        }
    }
    do {
        let result = try await body()
        await DefaultSocketServers.lock.release(exclusive: exclusive)
        return result
    } catch {
        await DefaultSocketServers.lock.release(exclusive: exclusive)
        throw error
    }
}

/// The `.../tmux-UID/default` sockets something listens on now, from
/// /proc/net/unix (a listening socket has the SO_ACCEPTCON flag, 0x10000).
public func listeningDefaultTmuxSockets() -> [String] {
    guard let table = try? readText("/proc/net/unix") else { return [] }
    let suffix = "/tmux-\(getuid())/default"
    return table.split(separator: "\n").dropFirst().compactMap { line in
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 8, let flags = UInt32(fields[3], radix: 16), flags & 0x10000 != 0,
              fields[7].hasSuffix(suffix) else { return nil }
        return String(fields[7])
    }
}
