#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CPerfFloor

/// The floor: `cperf_floor_loop`, a bare C loop of `posix_spawnp` + `waitpid`
/// with stdio on /dev/null (CPerfFloor/floor.c). The batch is one C call,
/// timed here around it, so no Swift runs between two spawns.
struct Floor: Sendable {
    let file: String
    let argv: CStringList
    let envp: CStringList

    /// - Parameters:
    ///   - file: looked up on PATH by `posix_spawnp`, as Vigil does.
    ///   - arguments: after `argv[0]`, which is `file`.
    ///   - environment: `KEY=VALUE` entries, the same the other contenders get.
    init(_ file: String, _ arguments: [String], environment: [String]) {
        self.file = file
        argv = CStringList([file] + arguments)
        envp = CStringList(environment)
    }

    /// Runs the probe once and returns its exit code (-1 when it did not exit).
    func exitCode() throws -> Int32 {
        var status: Int32 = 0
        let rc = cperf_floor_once(file, argv.pointer, envp.pointer, &status)
        if rc != 0 { throw BenchError("floor: spawning \(file) failed: errno \(rc)") }
        return cperf_exit_code(status)
    }

    /// A contender that runs `batch` probes in one C call.
    func contender(batch: Int) -> Contender {
        Contender(label: "floor (C posix_spawnp+waitpid)") {
            let start = cperf_now_ns()
            let rc = cperf_floor_loop(file, argv.pointer, envp.pointer, Int32(batch))
            let elapsed = cperf_now_ns() - start
            if rc != 0 { throw BenchError("floor: spawning \(file) failed: errno \(rc)") }
            return Batch(calls: batch, nanoseconds: Double(elapsed))
        }
    }

    /// The floor plus exactly the calls Vigil makes to collect a child's
    /// figures (wait4's rusage, two getrusage of its own mark): compared
    /// with the plain floor in the same rounds, the cost of the figures.
    func contenderWithFigures(batch: Int) -> Contender {
        Contender(label: "floor + figures (wait4 rusage, 2 getrusage)") {
            var childCPU: Int64 = 0
            let start = cperf_now_ns()
            let rc = cperf_floor_loop_usage(file, argv.pointer, envp.pointer, Int32(batch), &childCPU)
            let elapsed = cperf_now_ns() - start
            if rc != 0 { throw BenchError("floor + figures: spawning \(file) failed: errno \(rc)") }
            return Batch(calls: batch, nanoseconds: Double(elapsed), reportedChildCPUMicroseconds: Double(childCPU))
        }
    }
}

/// A NULL-terminated `char *[]` owned by Swift, for `argv` and `envp`.
///
/// `@unchecked Sendable`: filled in `init`, only read afterwards, freed in `deinit`.
final class CStringList: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    private let count: Int

    init(_ strings: [String]) {
        count = strings.count
        pointer = .allocate(capacity: count + 1)
        for (i, s) in strings.enumerated() { pointer[i] = strdup(s) }
        pointer[count] = nil
    }

    deinit {
        for i in 0..<count { free(pointer[i]) }
        pointer.deallocate()
    }
}
