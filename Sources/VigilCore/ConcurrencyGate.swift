#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// At most `limit` holders at once; the others wait their turn in order.
///
/// Made for "never put a thousand clients on one server": a backend enters
/// the gate of its server before each call and leaves it after. An async
/// waiter suspends (a continuation, never a blocked thread of the
/// cooperative pool) and gives up when its task is cancelled or its deadline
/// passes; a synchronous waiter blocks its own thread on a condition
/// variable, with the same deadline. A turn that is freed goes straight to
/// the oldest waiter.
public final class ConcurrencyGate: Sendable {
    /// Holders allowed at once (at least 1).
    public let limit: Int
    private let state: Mutex<State>

    private enum Waiter {
        case task(CheckedContinuation<Bool, Never>, timer: Task<Void, Never>?)
        case thread(BlockingTurn)

        func answer(_ admitted: Bool) {
            switch self {
            case .task(let continuation, let timer):
                timer?.cancel()
                continuation.resume(returning: admitted)
            case .thread(let turn):
                turn.answer(admitted)
            }
        }
    }

    private struct State: ~Copyable {
        var inUse = 0
        var nextID: UInt64 = 0
        /// Waiters by id; an id in `queue` but not here gave up.
        var waiters: [UInt64: Waiter] = [:]
        var queue: [UInt64] = []
        var head = 0

        mutating func popOldest() -> Waiter? {
            while head < queue.count {
                let id = queue[head]
                head += 1
                if head > 64 && head * 2 > queue.count {
                    queue.removeFirst(head)
                    head = 0
                }
                if let waiter = waiters.removeValue(forKey: id) { return waiter }
            }
            return nil
        }
    }

    /// Creates a gate.
    /// - Parameter limit: holders at once; values below 1 count as 1.
    public init(limit: Int) {
        self.limit = max(1, limit)
        state = Mutex(State())
    }

    /// Holders now.
    public var holders: Int { state.withLock { $0.inUse } }

    /// Waiters now.
    public var waiting: Int { state.withLock { $0.waiters.count } }

    /// Takes a turn if one is free, without waiting.
    public func tryEnter() -> Bool {
        state.withLock { s in
            guard s.inUse < limit else { return false }
            s.inUse += 1
            return true
        }
    }

    /// Waits for a turn, suspending the task (no thread is held).
    ///
    /// - Parameter deadline: give up when it passes; `nil` waits as long as it takes.
    /// - Returns: `true` with a turn that `leave()` must give back; `false`
    ///   when the task was cancelled or the deadline passed first (no turn held).
    public func enter(until deadline: ContinuousClock.Instant? = nil) async -> Bool {
        if tryEnter() { return true }
        if let deadline, deadline <= .now { return false }
        let id = state.withLock { s -> UInt64 in s.nextID += 1; return s.nextID }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let now: Bool? = state.withLock { s in
                    if s.inUse < limit { s.inUse += 1; return true }
                    // Cancelled before the handler could find the waiter: it never will.
                    if Task.isCancelled { return false }
                    s.waiters[id] = .task(continuation, timer: nil)
                    s.queue.append(id)
                    return nil
                }
                if let now { continuation.resume(returning: now); return }
                guard let deadline else { return }
                let timer = Task { [self] in
                    do { try await Task.sleep(until: deadline, clock: .continuous) } catch { return }
                    giveUp(id)
                }
                // Store the timer so an admission cancels it; if the waiter is already gone, stop it now.
                let kept = state.withLock { s -> Bool in
                    guard case .task(let c, _)? = s.waiters[id] else { return false }
                    s.waiters[id] = .task(c, timer: timer)
                    return true
                }
                if !kept { timer.cancel() }
            }
        } onCancel: {
            giveUp(id)
        }
    }

    /// Waits for a turn, blocking the calling thread (for synchronous callers only).
    /// - Parameter deadline: give up when it passes; `nil` waits as long as it takes.
    /// - Returns: `true` with a turn that `leave()` must give back, `false` at the deadline.
    public func enterBlocking(until deadline: ContinuousClock.Instant? = nil) -> Bool {
        if tryEnter() { return true }
        let turn = BlockingTurn()
        let id: UInt64? = state.withLock { s in
            if s.inUse < limit { s.inUse += 1; return nil }
            s.nextID += 1
            s.waiters[s.nextID] = .thread(turn)
            s.queue.append(s.nextID)
            return s.nextID
        }
        guard let id else { return true }
        if let admitted = turn.wait(until: deadline) { return admitted }
        // The deadline passed: withdraw, unless a turn was handed over meanwhile.
        let withdrawn = state.withLock { $0.waiters.removeValue(forKey: id) != nil }
        if withdrawn { return false }
        return turn.wait(until: nil) ?? false
    }

    /// Gives a turn back: to the oldest waiter, or to the pool.
    public func leave() {
        let next = state.withLock { s -> Waiter? in
            if let waiter = s.popOldest() { return waiter }   // the turn passes on; inUse unchanged
            s.inUse -= 1
            return nil
        }
        next?.answer(true)
    }

    /// A waiter that gave up (cancelled, or its deadline passed): answered `false` if still waiting.
    private func giveUp(_ id: UInt64) {
        let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
        waiter?.answer(false)
    }
}

/// One blocked thread's turn: a mutex and a condition variable on the
/// monotonic clock. `@unchecked Sendable`: every field is touched under `mutex`.
final class BlockingTurn: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var result: Bool? = nil

    init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        #if os(Linux)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        #endif
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    func answer(_ admitted: Bool) {
        pthread_mutex_lock(mutex)
        result = admitted
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }

    /// The answer, or `nil` when `deadline` passed first.
    func wait(until deadline: ContinuousClock.Instant?) -> Bool? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while result == nil {
            guard let deadline else {
                pthread_cond_wait(condition, mutex)
                continue
            }
            let left = deadline - .now
            if left <= .zero { return nil }
            #if os(Linux)
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            let (seconds, attoseconds) = left.components
            var nanoseconds = Int(now.tv_nsec) + Int(attoseconds / 1_000_000_000)
            var wholeSeconds = Int(now.tv_sec) + Int(seconds)
            if nanoseconds >= 1_000_000_000 { wholeSeconds += 1; nanoseconds -= 1_000_000_000 }
            var until = timespec(tv_sec: wholeSeconds, tv_nsec: nanoseconds)
            pthread_cond_timedwait(condition, mutex, &until)
            #else
            // No monotonic condition variables: wait in short slices.
            var slice = timespec(tv_sec: 0, tv_nsec: 10_000_000)
            pthread_cond_timedwait_relative_np(condition, mutex, &slice)
            #endif
        }
        return result
    }
}
