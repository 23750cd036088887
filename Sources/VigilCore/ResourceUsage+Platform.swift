// Reading a reaped job's rusage into a `ResourceUsage`, and the per-platform
// rule for trusting its peak memory (see `PeakMemory`).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
internal import CVigil

extension ResourceUsage {
    /// The figures of a reaped job; `nil` when wait4 gave none (nothing was
    /// reaped, or the exit status was lost).
    /// - Parameter slack: see `PeakMemory.countingSlack(processors:pageSize:)`.
    static func of(_ job: OpaquePointer, slack: Int) -> ResourceUsage? {
        var u = vigil_usage()
        guard vigil_job_usage(job, &u) != 0 else { return nil }
        let reported = PeakMemory.bytes(maxRSS: Int(u.maxrss))
        let mark = u.self_maxrss > 0 ? PeakMemory.bytes(maxRSS: Int(u.self_maxrss)) : nil
        return ResourceUsage(
            userTime: .microseconds(u.user_us),
            systemTime: .microseconds(u.system_us),
            voluntaryContextSwitches: Int(u.voluntary_switches),
            involuntaryContextSwitches: Int(u.involuntary_switches),
            peakMemory: PeakMemory.platformRule(reported: reported, spawnerMark: mark, slack: slack),
            spawnerHighWaterMark: mark
        )
    }
}

extension PeakMemory {
    /// The Linux rule, a pure function (tested on every platform): the
    /// kernel's figure is exactly the child's peak only when it exceeds the
    /// spawner's own mark by more than `slack`; otherwise it is an upper bound.
    ///
    /// - Parameters:
    ///   - reported: the child's `ru_maxrss` in bytes.
    ///   - spawnerMark: the spawner's own `ru_maxrss` in bytes, read after the
    ///     child's exec; `nil` when unknown (then only a bound is possible).
    ///   - slack: how far two readings of one mark may differ (`countingSlack`).
    public static func checked(reported: Int, spawnerMark: Int?, slack: Int) -> PeakMemory {
        guard reported > 0 else { return .unavailable }
        guard let spawnerMark, reported > spawnerMark + slack else { return .atMost(bytes: reported) }
        return .exact(bytes: reported)
    }

    /// How far two readings of one address space's high-water mark can differ
    /// on Linux, in bytes: since Linux 6.2 the resident-page counters are
    /// per-CPU counters (`percpu_counter`, batch `max(32, 2 x CPUs)` pages)
    /// that the high-water mark reads without summing, so each of the three
    /// counters in the mark (file, anonymous, shared memory pages) may be off
    /// by a batch per CPU, in either reading. Before 6.2 the counters were
    /// cached per thread instead (up to 64 page faults each); the same slack
    /// is used, which a process with many threads faulting at once can exceed.
    ///
    /// Measured on Linux 6.18 with 2 CPUs: a child of a 400 MB parent
    /// reported 432 KiB more than the parent's own `ru_maxrss` (the slack
    /// there is 1.5 MiB).
    public static func countingSlack(processors: Int, pageSize: Int) -> Int {
        let cpus = max(1, processors)
        let batch = max(32, 2 * cpus)
        return 6 * cpus * batch * max(1, pageSize)
    }

    /// The slack for this machine (`sysconf`, about 15 µs: computed once per reactor).
    static func countingSlackHere() -> Int {
        countingSlack(processors: sysconf(Int32(_SC_NPROCESSORS_CONF)), pageSize: sysconf(Int32(_SC_PAGESIZE)))
    }
}

#if os(Linux)
extension PeakMemory {
    /// `ru_maxrss` is in KiB on Linux.
    static func bytes(maxRSS: Int) -> Int { maxRSS &* 1024 }

    /// Linux: `checked(reported:spawnerMark:slack:)`.
    static func platformRule(reported: Int, spawnerMark: Int?, slack: Int) -> PeakMemory {
        checked(reported: reported, spawnerMark: spawnerMark, slack: slack)
    }
}
#elseif canImport(Darwin)
extension PeakMemory {
    /// `ru_maxrss` is in bytes on Darwin.
    static func bytes(maxRSS: Int) -> Int { maxRSS }

    /// Darwin: `posix_spawn` is a system call that builds a new task, so
    /// nothing of the parent's mark is inherited: the figure is the child's.
    static func platformRule(reported: Int, spawnerMark: Int?, slack: Int) -> PeakMemory {
        reported > 0 ? .exact(bytes: reported) : .unavailable
    }
}
#else
extension PeakMemory {
    /// `ru_maxrss` is in KiB on the BSDs.
    static func bytes(maxRSS: Int) -> Int { maxRSS &* 1024 }

    /// Elsewhere `posix_spawn` may run the child on the parent's address
    /// space for a while (FreeBSD's vfork), and what the figure inherits is
    /// not known here: an upper bound only.
    static func platformRule(reported: Int, spawnerMark: Int?, slack: Int) -> PeakMemory {
        reported > 0 ? .atMost(bytes: reported) : .unavailable
    }
}
#endif // os(Linux)
