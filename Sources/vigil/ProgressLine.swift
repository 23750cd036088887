#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import VigilRestore

/// A progress line on stderr while restore works: shown only on a terminal,
/// and only once a phase has lasted about a second, so a quick run prints
/// nothing and a pipe or a log file never gets carriage returns.
final class ProgressLine: Sendable {
    private struct State {
        var phase: RestorePhase?
        var since: ContinuousClock.Instant = .now
        var shown = false
        var done = false
    }
    private let state = Mutex(State())
    private let clock = ContinuousClock()

    /// A progress line when stderr is a terminal and `enabled`; else `nil`.
    static func onTerminal(enabled: Bool) -> ProgressLine? {
        guard enabled, isatty(2) == 1 else { return nil }
        let line = ProgressLine()
        line.startTicker()
        return line
    }

    /// A new phase starts now.
    func enter(_ phase: RestorePhase) {
        let now = clock.now
        state.withLock { s in
            s.phase = phase
            s.since = now
        }
    }

    /// Clears the line; nothing more is drawn.
    func finish() {
        // Drawn under the lock, as the ticker draws: a tick cannot land after the clearing.
        state.withLock { s in
            s.done = true
            if s.shown { Self.draw("\r\u{1B}[K") }
        }
    }

    private func startTicker() {
        Task.detached { [self] in
            while true {
                try? await Task.sleep(for: .milliseconds(250))
                let now = clock.now
                let running = state.withLock { s -> Bool in
                    guard !s.done else { return false }
                    if let phase = s.phase, now - s.since >= .seconds(1) {
                        s.shown = true
                        Self.draw("\r\u{1B}[Kvigil: \(phase)... \((now - s.since).components.seconds) s")
                    }
                    return true
                }
                guard running else { return }
            }
        }
    }

    private static func draw(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }
}
