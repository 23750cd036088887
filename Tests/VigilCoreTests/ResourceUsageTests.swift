#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing
@testable import VigilCore
import VigilTestSupport

/// What a child cost, checked on fixture children of known cost: python3
/// programs that spin until their own CPU clock reaches a figure, sleep in
/// short steps, or touch a known number of bytes. Bounds are on CPU time and
/// bytes, never on wall-clock time.
@Suite("Resource usage of reaped children", .timeLimit(.minutes(2)))
struct ResourceUsageTests {
    static let python = "/usr/bin/python3"
    static let MiB = 1 << 20

    /// Spins until the process's own CPU clock (user + system) reaches argv[1]
    /// ms, with user-mode work between readings (reading the clock is a
    /// system call, so a bare loop around it would be system time).
    static let spin = "import sys, time\nt = int(sys.argv[1]) / 1000.0\nwhile time.process_time() < t: sum(range(20000))\n"
    /// Sleeps argv[1] times for 20 ms: each sleep gives the CPU up.
    static let naps = "import sys, time\nfor _ in range(int(sys.argv[1])): time.sleep(0.02)\n"
    /// Touches argv[1] bytes (a repeated non-zero byte is written, so every page is resident).
    static let touch = "import sys\nb = b'\\x01' * int(sys.argv[1])\n"

    static func python(_ script: String, _ argument: String) -> Command {
        Command(python, arguments: ["-c", script, argument], timeout: .seconds(120))
    }

    /// This process's own ru_maxrss in bytes, as Vigil reads it.
    static func ownMark() -> Int {
        var r = rusage()
        #if canImport(Glibc)
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &r)
        #else
        getrusage(RUSAGE_SELF, &r)
        #endif // canImport(Glibc)
        return PeakMemory.bytes(maxRSS: Int(r.ru_maxrss))
    }

    // MARK: - CPU time and context switches

    @Test("a child that spins for 300 ms of CPU reports at least that, mostly user time", arguments: RunMode.allCases)
    func spinningChild(mode: RunMode) async throws {
        let o = await mode.run(Self.python(Self.spin, "300"))
        #expect(o.termination == .exited(0), "\(o.termination) \(o.stderr.text)")
        let usage = try #require(o.usage)
        // The kernel's utime + stime is the same clock python read (sum_exec_runtime), in µs.
        #expect(usage.cpuTime >= .milliseconds(299), "\(usage)")
        // Generous: interpreter start-up on a loaded machine. CPU time, not wall time.
        #expect(usage.cpuTime <= .milliseconds(300 + 1500), "\(usage)")
        #expect(usage.userTime >= .milliseconds(150), "a busy loop is user time: \(usage)")
        #expect(usage.cpuTime == usage.userTime + usage.systemTime)
    }

    @Test("a child that sleeps ten times switches voluntarily at least ten times and costs little CPU", arguments: RunMode.allCases)
    func nappingChild(mode: RunMode) async throws {
        let o = await mode.run(Self.python(Self.naps, "10"))
        #expect(o.termination == .exited(0), "\(o.termination) \(o.stderr.text)")
        let usage = try #require(o.usage)
        #expect(usage.voluntaryContextSwitches >= 10, "\(usage)")
        #expect(usage.involuntaryContextSwitches >= 0)
        // 200 ms asleep is not 200 ms of CPU: the figure is CPU time, not elapsed time.
        #expect(usage.cpuTime < .milliseconds(150), "\(usage)")
    }

    @Test("the figures include the descendants the child waited for")
    func waitedForGrandchild() async throws {
        // The shell runs python, reaps it, then exits: wait4's rusage covers both.
        let script = "\(Self.python) -c '\(Self.spin)' 250; exit 0"
        let o = await Spawner().run(shell(script, timeout: .seconds(120)))
        #expect(o.termination == .exited(0), "\(o.termination) \(o.stderr.text)")
        let usage = try #require(o.usage)
        #expect(usage.cpuTime >= .milliseconds(249), "\(usage)")
    }

    @Test("a child killed at its deadline is reaped with its figures; a spawn failure has none", arguments: RunMode.allCases)
    func timedOutAndFailed(mode: RunMode) async throws {
        var command = Self.python(Self.spin, "100000")
        command.timeout = .milliseconds(400)
        let killed = await mode.run(command)
        #expect(killed.termination == .timedOut(.kill))
        let usage = try #require(killed.usage)
        // It spun until killed: some CPU, bounded by what a CPU can do in the run.
        #expect(usage.cpuTime > .zero, "\(usage)")

        let failed = await mode.run(Command("vigil-no-such-binary-\(getpid())"))
        #expect(failed.usage == nil)
        #expect(ChildrenUsage(failed) == ChildrenUsage.none)
    }

    @Test("a lost exit status (ECHILD) has no figures and counts as unmeasured")
    func unmeasured() {
        let lost = Outcome(termination: .waitFailed(.noChild), pid: 4242)
        let total = ChildrenUsage(lost)
        #expect(total.children == 0)
        #expect(total.unmeasured == 1)
        #expect(total.peakMemory == .unavailable)
    }

}

/// Peak memory, one test at a time: each grows this process or its child by
/// hundreds of MB. Other suites may raise this process's mark meanwhile; the
/// checks allow for that (the mark only grows) without ever allowing the
/// parent's peak to pass as the child's.
@Suite("Peak memory of reaped children", .serialized, .timeLimit(.minutes(2)))
struct PeakMemoryTests {
    static let MiB = 1 << 20

    @Test("a child of a parent that grew its heap by 400 MB is never given the parent's peak")
    func childOfABigParent() async throws {
        // Grow this process by 400 MB, every page touched, and spawn while it is held.
        let size = 400 * Self.MiB
        let heap = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096)
        defer { heap.deallocate() }
        memset(heap, 1, size)

        let child = 32 * Self.MiB
        let o = await Spawner().run(ResourceUsageTests.python(ResourceUsageTests.touch, String(child)))
        withExtendedLifetime(heap) {}
        #expect(o.termination == .exited(0), "\(o.termination) \(o.stderr.text)")
        let usage = try #require(o.usage)
        #expect((usage.spawnerHighWaterMark ?? 0) >= size, "\(usage)")
        switch usage.peakMemory {
        case .exact(let bytes):
            // Only the child's own figure may be exact: 32 MB plus the interpreter.
            #expect(bytes >= child && bytes < child + 96 * Self.MiB, "the parent's peak reported as the child's: \(usage)")
        case .atMost(let bytes):
            #expect(bytes >= child, "\(usage)")
        case .unavailable:
            Issue.record("no peak memory at all: \(usage)")
        }
        #if os(Linux)
        // On Linux the kernel's figure carries the parent's mark (fs/exec.c,
        // exec_mmap): this is the case the check exists for.
        #expect(usage.peakMemory.exactBytes == nil, "\(usage)")
        #expect((usage.peakMemory.upperBound ?? 0) >= size, "\(usage)")
        #endif // os(Linux)
    }

    @Test("a child that peaks above its parent's mark gets its own peak, exactly", arguments: [RunMode.asyncPidfd, .asyncPortable])
    func childAboveItsParent(mode: RunMode) async throws {
        // Size the child from this process's own mark now (other tests in
        // this process may have raised it; it only grows).
        let touched = ResourceUsageTests.ownMark() + 256 * Self.MiB
        let o = await mode.run(ResourceUsageTests.python(ResourceUsageTests.touch, String(touched)))
        #expect(o.termination == .exited(0), "\(o.termination) \(o.stderr.text)")
        let usage = try #require(o.usage)
        let mark = usage.spawnerHighWaterMark ?? 0
        switch usage.peakMemory {
        case .exact(let bytes):
            #expect(bytes >= touched && bytes < touched + 96 * Self.MiB, "\(usage)")
            #expect(bytes > mark, "\(usage)")
        case .atMost(let bytes):
            // Only acceptable if a concurrent test raised this process's mark
            // past the child's meanwhile: then the figure cannot be told apart.
            #expect(bytes >= touched, "\(usage)")
            #expect(mark + PeakMemory.countingSlackHere() >= bytes, "a figure above the spawner's mark must be exact: \(usage)")
        case .unavailable:
            Issue.record("no peak memory at all: \(usage)")
        }
    }
}

/// The pure parts: the Linux rule, the slack, and how totals combine.
@Suite("Resource usage values")
struct ResourceUsageValueTests {
    static let MiB = 1 << 20

    @Test("the Linux rule: exact only above the spawner's mark plus the slack")
    func linuxRule() {
        let slack = 2 * Self.MiB
        #expect(PeakMemory.checked(reported: 500 * Self.MiB, spawnerMark: 400 * Self.MiB, slack: slack) == .exact(bytes: 500 * Self.MiB))
        #expect(PeakMemory.checked(reported: 400 * Self.MiB, spawnerMark: 400 * Self.MiB, slack: slack) == .atMost(bytes: 400 * Self.MiB))
        // Within the slack above the mark: the kernel's counters may have read the parent a little high.
        #expect(PeakMemory.checked(reported: 401 * Self.MiB, spawnerMark: 400 * Self.MiB, slack: slack) == .atMost(bytes: 401 * Self.MiB))
        #expect(PeakMemory.checked(reported: 403 * Self.MiB, spawnerMark: 400 * Self.MiB, slack: slack) == .exact(bytes: 403 * Self.MiB))
        #expect(PeakMemory.checked(reported: 10 * Self.MiB, spawnerMark: 400 * Self.MiB, slack: slack) == .atMost(bytes: 10 * Self.MiB))
        #expect(PeakMemory.checked(reported: 10 * Self.MiB, spawnerMark: nil, slack: slack) == .atMost(bytes: 10 * Self.MiB))
        #expect(PeakMemory.checked(reported: 0, spawnerMark: 1, slack: slack) == .unavailable)
    }

    @Test("the slack is six per-CPU batches per CPU, at least 32 pages a batch")
    func slack() {
        // 2 CPUs: batch 32 pages; 6 x 2 x 32 pages of 4 KiB = 1.5 MiB.
        #expect(PeakMemory.countingSlack(processors: 2, pageSize: 4096) == 1_572_864)
        // 64 CPUs: batch 128 pages.
        #expect(PeakMemory.countingSlack(processors: 64, pageSize: 4096) == 6 * 64 * 128 * 4096)
        #expect(PeakMemory.countingSlack(processors: 0, pageSize: 4096) == 6 * 1 * 32 * 4096)
        #expect(PeakMemory.countingSlackHere() >= PeakMemory.countingSlack(processors: 1, pageSize: 4096))
    }

    @Test("the largest of several peaks stays exact only when the exact one dominates")
    func largest() {
        let e10 = PeakMemory.exact(bytes: 10), e20 = PeakMemory.exact(bytes: 20)
        let b15 = PeakMemory.atMost(bytes: 15), b30 = PeakMemory.atMost(bytes: 30)
        #expect(e10.largest(e20) == e20)
        #expect(e20.largest(b15) == e20)
        #expect(b15.largest(e20) == e20)
        #expect(e10.largest(b15) == b15)
        #expect(b15.largest(b30) == b30)
        #expect(e20.largest(.unavailable) == .unavailable)
        #expect(e20.upperBound == 20 && b30.upperBound == 30 && PeakMemory.unavailable.upperBound == nil)
        #expect(b30.exactBytes == nil && e20.exactBytes == 20)
        #expect(PeakMemory.atMost(bytes: 1_048_576 * 3 / 2).description == "at most 1.5 MiB")
    }

    @Test("totals add CPU times and switches, count children, keep the largest peak")
    func totals() {
        var total = ChildrenUsage.none
        total.add(ResourceUsage(userTime: .milliseconds(3), systemTime: .milliseconds(1), voluntaryContextSwitches: 2,
                                involuntaryContextSwitches: 1, peakMemory: .atMost(bytes: 100)))
        total.add(Outcome(termination: .exited(0), pid: 7, usage: ResourceUsage(
            userTime: .milliseconds(5), systemTime: .milliseconds(2), voluntaryContextSwitches: 3,
            involuntaryContextSwitches: 0, peakMemory: .exact(bytes: 150))))
        total.add(Outcome(termination: .spawnFailed(.noSuchFile)))
        #expect(total.children == 2)
        #expect(total.unmeasured == 0)
        #expect(total.userTime == .milliseconds(8))
        #expect(total.systemTime == .milliseconds(3))
        #expect(total.cpuTime == .milliseconds(11))
        #expect(total.voluntaryContextSwitches == 5)
        #expect(total.involuntaryContextSwitches == 1)
        #expect(total.peakMemory == .exact(bytes: 150))

        var sum = ChildrenUsage.none
        sum.add(total)
        sum.add(ChildrenUsage.none)
        sum.add(total)
        #expect(sum.children == 4)
        #expect(sum.cpuTime == .milliseconds(22))
        #expect(sum.peakMemory == .exact(bytes: 150))
    }
}
