#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VigilSystem

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
        await run(metered: { number, remaining in (await attempt(number, remaining), ChildrenUsage.none) })
    }

    /// `run(_:)` for attempts that run children: each attempt also returns
    /// what its children used, and the result carries the total over every
    /// attempt in `usage`.
    public func run<Answer: RetryableAnswer>(
        metered attempt: (_ number: Int, _ remaining: Duration?) async -> (Answer, ChildrenUsage)
    ) async -> Retried<Answer> {
        var schedule = Schedule(self)
        var usage = ChildrenUsage.none
        while true {
            let (answer, used) = await attempt(schedule.number, schedule.remaining)
            usage.add(used)
            // A cancelled caller gets the last answer now, not more attempts.
            if Task.isCancelled { return schedule.result(answer, usage) }
            guard let pause = schedule.pause(after: answer) else { return schedule.result(answer, usage) }
            try? await Task.sleep(for: pause)
        }
    }

    /// The blocking form of `run(_:)`, sleeping the calling thread between attempts.
    public func runSynchronously<Answer: RetryableAnswer>(
        _ attempt: (_ number: Int, _ remaining: Duration?) -> Answer
    ) -> Retried<Answer> {
        runSynchronously(metered: { number, remaining in (attempt(number, remaining), ChildrenUsage.none) })
    }

    /// The blocking form of `run(metered:)`.
    public func runSynchronously<Answer: RetryableAnswer>(
        metered attempt: (_ number: Int, _ remaining: Duration?) -> (Answer, ChildrenUsage)
    ) -> Retried<Answer> {
        var schedule = Schedule(self)
        var usage = ChildrenUsage.none
        while true {
            let (answer, used) = attempt(schedule.number, schedule.remaining)
            usage.add(used)
            guard let pause = schedule.pause(after: answer) else { return schedule.result(answer, usage) }
            system_sleep(pause)
        }
    }

    /// The bookkeeping both forms share: attempt number, time left, and
    /// whether (and how long) to pause before the next attempt.
    struct Schedule {
        let policy: RetryPolicy
        let clock = ContinuousClock()
        let start: ContinuousClock.Instant
        var rng = SystemRandomNumberGenerator()
        private(set) var number = 1

        init(_ policy: RetryPolicy) {
            self.policy = policy
            start = clock.now
        }

        /// Time left before the overall deadline; `nil` when unbounded.
        var remaining: Duration? { policy.overallDeadline.map { $0 - (clock.now - start) } }

        /// `nil` to stop with `answer`: it is authoritative, the attempts are
        /// used up, or the pause would cross the overall deadline. Otherwise
        /// the pause before the next attempt (and the count moves on).
        mutating func pause(after answer: some RetryableAnswer) -> Duration? {
            if answer.isAuthoritative || number >= policy.maxAttempts { return nil }
            let pause = policy.delay(after: number, random: Double.random(in: 0...1, using: &rng))
            if let deadline = policy.overallDeadline, clock.now - start + pause >= deadline { return nil }
            number += 1
            return pause
        }

        func result<Answer>(_ answer: Answer, _ usage: ChildrenUsage) -> Retried<Answer> {
            Retried(answer: answer, attempts: number, elapsed: clock.now - start, usage: usage)
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
    /// What the children of every attempt used (CPU time, context switches,
    /// the largest peak memory); `.none` when nothing was spawned.
    public var usage: ChildrenUsage

    /// Creates a record.
    public init(answer: Answer, attempts: Int, elapsed: Duration, usage: ChildrenUsage = .none) {
        self.answer = answer
        self.attempts = attempts
        self.elapsed = elapsed
        self.usage = usage
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
