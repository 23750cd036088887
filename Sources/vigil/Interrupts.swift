#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import VigilSystem

/// SIGINT and SIGTERM, handled by the `vigil` executable (the host process,
/// so it may; the library never installs a handler).
///
/// A handler that only writes the signal number to a pipe (async-signal
/// safe, whichever thread the kernel picks), and a watcher thread that
/// reads the pipe. The first signal cancels the root task: every run in
/// flight is a task waiting on the spawner, and cancelling it kills the
/// child's process group and reaps it (see `Spawner.run`). The command then
/// returns, and `main` exits with 128 + the signal number (130, 143). A
/// second signal exits at once. A signal the parent left ignored (a shell's
/// background job ignores SIGINT) stays ignored. Children start with every
/// signal at its default action (the spawner resets them).
final class Interrupts: Sendable {
    private let received = Atomic<Int32>(0)
    private let onFirst = Mutex<(@Sendable () -> Void)?>(nil)
    private let readEnd: Int32

    /// The signals handled: SIGINT (130) and SIGTERM (143).
    static let signals: [Int32] = [SIGINT, SIGTERM]

    private init(readEnd: Int32) { self.readEnd = readEnd }

    /// Installs the handlers and starts the watcher thread. Call it first thing in `main`.
    static func install() -> Interrupts {
        var fds: [Int32] = [-1, -1]
        // No other thread spawns yet, so setting close-on-exec after pipe(2) is not racy.
        guard pipe(&fds) == 0 else { return Interrupts(readEnd: -1) }
        // The read end blocks (the watcher sleeps in read); the write end never
        // does. A pipe that children would inherit, or whose write end could
        // block the handler, is not used: no handlers, the default actions stay.
        guard case .success = valueOrErrno({ fcntl(fds[0], F_SETFD, FD_CLOEXEC) }),
              case .success = valueOrErrno({ fcntl(fds[1], F_SETFD, FD_CLOEXEC) }),
              case .success(let flags) = valueOrErrno({ fcntl(fds[1], F_GETFL) }),
              case .success = valueOrErrno({ fcntl(fds[1], F_SETFL, flags | O_NONBLOCK) }) else {
            for fd in fds { system_close(fd) }
            return Interrupts(readEnd: -1)
        }
        SignalPipe.writeEnd = fds[1]

        let interrupts = Interrupts(readEnd: fds[0])
        // No watcher: leave the default actions in place.
        guard system_startThread({ interrupts.watch() }) else { return interrupts }
        for sig in signals {
            var old = sigaction()
            sigaction(sig, nil, &old)
            if isIgnored(old) { continue }
            var action = sigaction()
            #if os(Linux)
            action.__sigaction_handler.sa_handler = { sig in SignalPipe.note(sig) }
            #else
            action.__sigaction_u.__sa_handler = { sig in SignalPipe.note(sig) }
            #endif
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(sig, &action, nil)
        }
        return interrupts
    }

    private static func isIgnored(_ action: sigaction) -> Bool {
        #if os(Linux)
        let handler = action.__sigaction_handler.sa_handler
        #else
        let handler = action.__sigaction_u.__sa_handler
        #endif
        guard let handler else { return false }
        return unsafeBitCast(handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self)
    }

    /// The signal that interrupted the run, or `nil`.
    var signal: Int32? {
        let s = received.load(ordering: .acquiring)
        return s == 0 ? nil : s
    }

    /// What to do on the first signal (cancel the root task). If a signal
    /// already came, runs it at once.
    func onInterrupt(_ action: @escaping @Sendable () -> Void) {
        let now = onFirst.withLock { slot -> Bool in
            slot = action
            return received.load(ordering: .acquiring) != 0
        }
        if now { action() }
    }

    private func watch() {
        var byte: UInt8 = 0
        // Until the pipe fails or closes; EINTR is retried.
        while case .success(1) = valueOrErrno({ read(readEnd, &byte, 1) }) {
            let sig = Int32(byte)
            let (first, _) = received.compareExchange(expected: 0, desired: sig, ordering: .acquiringAndReleasing)
            if !first { _exit(128 + sig) }   // asked twice: stop waiting for the children to be ended
            let action = onFirst.withLock { $0 }
            action?()
        }
    }

    /// `SIGINT` or `SIGTERM` by name.
    static func name(_ sig: Int32) -> String {
        sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "signal \(sig)"
    }
}

/// The write end of the signal pipe, set once before any handler is
/// installed and only read afterwards (by the handler).
enum SignalPipe {
    nonisolated(unsafe) static var writeEnd: Int32 = -1

    /// The handler's whole work: one byte into the pipe. write(2) is
    /// async-signal-safe; errno is saved and restored around it.
    static func note(_ sig: Int32) {
        let saved = errno
        var byte = UInt8(truncatingIfNeeded: sig)
        _ = write(writeEnd, &byte, 1)
        errno = saved
    }
}
