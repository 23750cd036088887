/// What one reaped child used, as the kernel reported it when Vigil reaped it.
///
/// Every figure comes from the `rusage` that `wait4(pid, ...)` fills in the
/// same call that reaps the child (on the pidfd path and the portable path
/// alike; Vigil never waits for any other pid). Like every `rusage` of a
/// reaped child, it covers the child and the descendants the child itself
/// waited for: a shell that ran and reaped a compiler reports the
/// compiler's CPU time too.
///
/// | figure | source |
/// |---|---|
/// | `userTime`, `systemTime` | `ru_utime`, `ru_stime` |
/// | `voluntaryContextSwitches` | `ru_nvcsw` (the child blocked: I/O, a sleep, a lock) |
/// | `involuntaryContextSwitches` | `ru_nivcsw` (the scheduler took the CPU away) |
/// | `peakMemory` | `ru_maxrss`, checked against this process's own mark (see `PeakMemory`) |
/// | `spawnerHighWaterMark` | this process's own `ru_maxrss` (`getrusage`), after the spawn and at the reap |
public struct ResourceUsage: Sendable, Hashable {
    /// CPU time spent in user mode (`ru_utime`).
    public var userTime: Duration
    /// CPU time spent in the kernel on the child's behalf (`ru_stime`).
    public var systemTime: Duration
    /// Times the child gave up the CPU before its time slice ended (`ru_nvcsw`).
    public var voluntaryContextSwitches: Int
    /// Times the scheduler preempted the child (`ru_nivcsw`).
    public var involuntaryContextSwitches: Int
    /// The child's peak resident memory, or a bound on it (see `PeakMemory`).
    public var peakMemory: PeakMemory
    /// The spawning process's own peak resident memory in bytes (its
    /// `ru_maxrss`, the larger of a reading right after the spawn and one at
    /// the reap): what the child's figure was checked against. `nil` where it
    /// was not read.
    public var spawnerHighWaterMark: Int?

    /// Creates a record; mostly for tests and fakes.
    public init(
        userTime: Duration = .zero,
        systemTime: Duration = .zero,
        voluntaryContextSwitches: Int = 0,
        involuntaryContextSwitches: Int = 0,
        peakMemory: PeakMemory = .unavailable,
        spawnerHighWaterMark: Int? = nil
    ) {
        self.userTime = userTime
        self.systemTime = systemTime
        self.voluntaryContextSwitches = voluntaryContextSwitches
        self.involuntaryContextSwitches = involuntaryContextSwitches
        self.peakMemory = peakMemory
        self.spawnerHighWaterMark = spawnerHighWaterMark
    }

    /// User plus system time.
    public var cpuTime: Duration { userTime + systemTime }
}

/// A child's peak resident memory, and how far the figure can be trusted.
///
/// The kernel's `ru_maxrss` is not always the child's own. On Linux,
/// `posix_spawn` starts the child on the parent's address space
/// (`CLONE_VM | CLONE_VFORK`), and `exec_mmap` in `fs/exec.c` copies that
/// address space's high-water mark into the child's before switching to the
/// new program: a `tmux` started by a 1 GB daemon reports at least 1 GB. So
/// the figure is `max(the spawner's mark at the exec, the child's own peak)`.
/// Vigil compares it with its own mark, read after the exec (the mark only
/// grows, so the later reading bounds the one the kernel copied):
///
/// - larger (by more than the kernel's counting slack, see below): the
///   spawner's mark cannot be the maximum, so the figure is exactly the
///   child's own peak: `exact`;
/// - not larger: the child's peak is at most the figure, and may be much
///   smaller: `atMost`, never presented as the child's peak.
///
/// The kernel counts resident pages in per-CPU batches, so two readings of
/// one mark can differ by up to six batches per CPU (three page counters,
/// each read twice); a figure within that slack of Vigil's mark is `atMost`.
/// Per platform:
///
/// | platform | `peakMemory` |
/// |---|---|
/// | Linux | `exact` or `atMost` as above (`ru_maxrss` is in KiB) |
/// | Darwin | `exact`: `posix_spawn` is a system call that makes a new task, nothing is inherited (`ru_maxrss` in bytes; compiled, not tested here) |
/// | other systems | `atMost`: their `posix_spawn` may share the parent's address space (FreeBSD's vfork) and nothing is known about what the figure inherits |
///
/// Like the CPU times, the figure covers the descendants the child waited
/// for: it is the largest peak among them and the child.
public enum PeakMemory: Sendable, Hashable, CustomStringConvertible {
    /// The child's own peak resident set, in bytes.
    case exact(bytes: Int)
    /// An upper bound only: the child's peak is at most this many bytes (the
    /// kernel's figure could be the spawner's own mark).
    case atMost(bytes: Int)
    /// Nothing to report (no `rusage`, or a zero figure).
    case unavailable

    /// The bytes when the figure is exactly the child's peak, else `nil`.
    public var exactBytes: Int? {
        if case .exact(let bytes) = self { return bytes }
        return nil
    }

    /// A bound the child's peak does not exceed: the exact figure or the upper bound.
    public var upperBound: Int? {
        switch self {
        case .exact(let bytes), .atMost(let bytes): return bytes
        case .unavailable: return nil
        }
    }

    /// `exact`, `atMost` or `unavailable`: how the figure may be read (for JSON and tables).
    public var kind: String {
        switch self {
        case .exact: return "exact"
        case .atMost: return "atMost"
        case .unavailable: return "unavailable"
        }
    }

    /// `"12.3 MiB"`, `"at most 1024.0 MiB"` or `"unavailable"`.
    public var description: String {
        func mib(_ bytes: Int) -> String {
            let tenths = (bytes * 10 + 524_288) / 1_048_576
            return "\(tenths / 10).\(tenths % 10) MiB"
        }
        switch self {
        case .exact(let bytes): return mib(bytes)
        case .atMost(let bytes): return "at most \(mib(bytes))"
        case .unavailable: return "unavailable"
        }
    }

    /// The peak of a set of children (the largest of theirs), from the peak
    /// of some of them and of one more. An exact figure at least as large as
    /// every bound is still exact; a bound above every exact figure leaves a
    /// bound; one unknown peak makes the largest unknown.
    public func largest(_ other: PeakMemory) -> PeakMemory {
        switch (self, other) {
        case (.unavailable, _), (_, .unavailable):
            return .unavailable
        case (.exact(let a), .exact(let b)):
            return .exact(bytes: max(a, b))
        case (.exact(let e), .atMost(let b)), (.atMost(let b), .exact(let e)):
            return e >= b ? .exact(bytes: e) : .atMost(bytes: b)
        case (.atMost(let a), .atMost(let b)):
            return .atMost(bytes: max(a, b))
        }
    }
}

/// What the children behind one answer used: every attempt of a retried
/// probe or listing, summed.
public struct ChildrenUsage: Sendable, Hashable {
    /// Children whose figures are included.
    public var children: Int
    /// Children that ran but whose figures were lost (their exit status was
    /// lost too: `waitFailed`); the sums leave them out.
    public var unmeasured: Int
    /// Sum of the children's user time.
    public var userTime: Duration
    /// Sum of the children's system time.
    public var systemTime: Duration
    /// Sum of the children's voluntary context switches.
    public var voluntaryContextSwitches: Int
    /// Sum of the children's involuntary context switches.
    public var involuntaryContextSwitches: Int
    /// The largest peak among the children (see `PeakMemory.largest`);
    /// `unavailable` when there were none.
    public var peakMemory: PeakMemory

    /// No children.
    public static let none = ChildrenUsage()

    /// Creates a total, empty by default.
    public init(
        children: Int = 0,
        unmeasured: Int = 0,
        userTime: Duration = .zero,
        systemTime: Duration = .zero,
        voluntaryContextSwitches: Int = 0,
        involuntaryContextSwitches: Int = 0,
        peakMemory: PeakMemory = .unavailable
    ) {
        self.children = children
        self.unmeasured = unmeasured
        self.userTime = userTime
        self.systemTime = systemTime
        self.voluntaryContextSwitches = voluntaryContextSwitches
        self.involuntaryContextSwitches = involuntaryContextSwitches
        self.peakMemory = peakMemory
    }

    /// The usage of the child behind `outcome`: one child with its figures,
    /// one unmeasured child when it ran and its figures were lost, or none
    /// when nothing was spawned.
    public init(_ outcome: Outcome) {
        self.init()
        add(outcome)
    }

    /// User plus system time of all the children.
    public var cpuTime: Duration { userTime + systemTime }

    /// Adds the child behind `outcome` (nothing when nothing was spawned).
    public mutating func add(_ outcome: Outcome) {
        if let usage = outcome.usage {
            add(usage)
        } else if outcome.pid != nil {
            unmeasured += 1
        }
    }

    /// Adds one child's figures.
    public mutating func add(_ usage: ResourceUsage) {
        peakMemory = children == 0 ? usage.peakMemory : peakMemory.largest(usage.peakMemory)
        children += 1
        userTime += usage.userTime
        systemTime += usage.systemTime
        voluntaryContextSwitches += usage.voluntaryContextSwitches
        involuntaryContextSwitches += usage.involuntaryContextSwitches
    }

    /// Adds another total.
    public mutating func add(_ other: ChildrenUsage) {
        if other.children > 0 {
            peakMemory = children == 0 ? other.peakMemory : peakMemory.largest(other.peakMemory)
        }
        children += other.children
        unmeasured += other.unmeasured
        userTime += other.userTime
        systemTime += other.systemTime
        voluntaryContextSwitches += other.voluntaryContextSwitches
        involuntaryContextSwitches += other.involuntaryContextSwitches
    }
}
