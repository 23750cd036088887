#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How to retry an `unknown` answer: a few attempts, exponential backoff with
/// jitter, and an overall deadline that bounds the whole thing.
///
/// `exists` and `missing` are authoritative and return at once; only
/// `unknown` is worth asking again (a tmux server busy starting, a slow disk).
public struct RetryPolicy: Sendable, Hashable {
    /// Attempts in all, at least 1.
    public var maxAttempts: Int
    /// The delay before the second attempt; doubled for each one after.
    public var baseDelay: Duration
    /// No single delay exceeds this.
    public var maxDelay: Duration
    /// Fraction of each delay that is randomised (0 = none, 1 = anywhere in 0...delay).
    public var jitter: Double
    /// The whole sequence, attempts and delays, ends by this; `nil` for no bound.
    public var overallDeadline: Duration?

    /// Creates a policy. The defaults are 3 attempts, 150 ms base backoff,
    /// 50% jitter, 2 s maximum delay and a 10 s overall deadline.
    public init(
        maxAttempts: Int = 3,
        baseDelay: Duration = .milliseconds(150),
        maxDelay: Duration = .seconds(2),
        jitter: Double = 0.5,
        overallDeadline: Duration? = .seconds(10)
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.jitter = min(1, max(0, jitter))
        self.overallDeadline = overallDeadline
    }

    /// One attempt, no retry.
    public static let none = RetryPolicy(maxAttempts: 1, baseDelay: .zero, jitter: 0, overallDeadline: nil)

    /// The delay before attempt `attempt + 1` (attempt counts from 1), jitter applied.
    public func delay(after attempt: Int, random: Double) -> Duration {
        var d = baseDelay
        var i = 1
        while i < attempt && d < maxDelay { d = d * 2; i += 1 }
        if d > maxDelay { d = maxDelay }
        let keep = 1 - jitter * min(1, max(0, random))
        return d * keep
    }

    /// Runs `attempt` until it is authoritative, attempts run out, or the
    /// overall deadline would pass before the next attempt could start.
    ///
    /// - Parameter attempt: called with the attempt number (from 1) and the
    ///   time left before the overall deadline (`nil` when unbounded), so the
    ///   callee can shorten its own timeout to fit.
    /// - Returns: the last answer, how many attempts ran, and the time taken.
    public func run<Answer: RetryableAnswer>(
        _ attempt: (_ number: Int, _ remaining: Duration?) async -> Answer
    ) async -> Retried<Answer> {
        let clock = ContinuousClock()
        let start = clock.now
        var rng = SystemRandomNumberGenerator()
        var number = 1
        while true {
            let remaining = overallDeadline.map { $0 - (clock.now - start) }
            let answer = await attempt(number, remaining)
            // A cancelled caller gets the last answer now, not more attempts.
            if answer.isAuthoritative || number >= maxAttempts || Task.isCancelled {
                return Retried(answer: answer, attempts: number, elapsed: clock.now - start)
            }
            let pause = delay(after: number, random: Double.random(in: 0...1, using: &rng))
            if let overallDeadline, clock.now - start + pause >= overallDeadline {
                return Retried(answer: answer, attempts: number, elapsed: clock.now - start)
            }
            try? await Task.sleep(for: pause)
            number += 1
        }
    }

    /// The blocking form of `run(_:)`, sleeping the calling thread between attempts.
    public func runSynchronously<Answer: RetryableAnswer>(
        _ attempt: (_ number: Int, _ remaining: Duration?) -> Answer
    ) -> Retried<Answer> {
        let clock = ContinuousClock()
        let start = clock.now
        var rng = SystemRandomNumberGenerator()
        var number = 1
        while true {
            let remaining = overallDeadline.map { $0 - (clock.now - start) }
            let answer = attempt(number, remaining)
            if answer.isAuthoritative || number >= maxAttempts {
                return Retried(answer: answer, attempts: number, elapsed: clock.now - start)
            }
            let pause = delay(after: number, random: Double.random(in: 0...1, using: &rng))
            if let overallDeadline, clock.now - start + pause >= overallDeadline {
                return Retried(answer: answer, attempts: number, elapsed: clock.now - start)
            }
            var ts = timespec(tv_sec: Int(pause.components.seconds), tv_nsec: Int(pause.components.attoseconds / 1_000_000_000))
            var rest = timespec()
            while nanosleep(&ts, &rest) != 0 && errno == EINTR { ts = rest }
            number += 1
        }
    }
}

/// An answer with the cost of getting it.
public struct Retried<Answer: Sendable>: Sendable {
    /// The final answer.
    public var answer: Answer
    /// Attempts made: at least 1 once anything ran; 0 when nothing could be
    /// sent (a backend refuses an invalid session name before any spawn).
    public var attempts: Int
    /// Wall time across all attempts and pauses.
    public var elapsed: Duration

    /// Creates a record.
    public init(answer: Answer, attempts: Int, elapsed: Duration) {
        self.answer = answer
        self.attempts = attempts
        self.elapsed = elapsed
    }
}

extension Duration {
    /// Shortens a per-call timeout so it ends no later than `remaining`.
    /// - Returns: `self` when `remaining` is `nil`, else the smaller one (never below 1 ms).
    public func clamped(toRemaining remaining: Duration?) -> Duration {
        guard let remaining else { return self }
        return Swift.max(.milliseconds(1), Swift.min(self, remaining))
    }
}
