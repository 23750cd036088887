// swift-tools-version: 6.0
// Vigil: exact session-survival probes for tmux, zellij and herdr, and the
// restore orchestrator built on them. No package dependencies by design.
import PackageDescription
#if canImport(Glibc)
import Glibc
#endif

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

/// The release `vigil` command's link flags on Linux: the Swift runtime
/// linked in (`-static-stdlib`), and the C++ runtime it uses too when the
/// system has it as an archive. Swift's static link asks for `-lstdc++`,
/// which would load and bind libstdc++.so at every start (about 0.6 ms of a
/// 7 ms restore here, figure 9); `Sources/vigil/StaticCxx` holds a linker
/// script of that name that takes `libstdc++.a` instead. Without the
/// archive (a system without its static C++ package) the command links as
/// before.
///
/// `VIGIL_SHARED_CXX=1` in the environment keeps libstdc++.so: for a
/// cross-compilation to a system without the archive (this check looks at
/// the building machine), or an archive removed after `.build` was made
/// (SwiftPM caches this manifest's answer; remove `.build` too).
///
/// The command is linked as a position-dependent executable (`-no-pie`):
/// its image then needs none of the 27,800 relative relocations a PIE
/// gets at every start, each page of them copied on first write (335 ->
/// 276 page faults and about 0.35 ms of a 10,000-record restore, figure 9).
/// Its own image is then not placed at a random address (the libraries,
/// heap, stacks and mappings still are). `VIGIL_PIE=1` in the environment
/// links a PIE as before. The library products are not affected.
///
/// GCC's own runtime (the unwinder the C++ runtime calls) is linked in as
/// well (`-static-libgcc`): libgcc_s.so is one library less to map and bind
/// at start, and its constructor's CPUID calls, each a trap to the
/// hypervisor on a virtual machine (about 0.2 ms of a 10,000-record
/// restore). Every C++ frame is the command's own, so one unwinder serves.
let commandLinkFlags: [String] = {
    var flags = ["-static-stdlib", "-Xclang-linker", "-static-libgcc"]
    if Context.environment["VIGIL_PIE"] == nil { flags += ["-Xclang-linker", "-no-pie"] }
    if Context.environment["VIGIL_SHARED_CXX"] == nil, hasStaticCxxRuntime() {
        flags += ["-L\(Context.packageDirectory)/Sources/vigil/StaticCxx"]
    }
    return flags
}()

/// Whether every GCC runtime folder that holds `libstdc++.so` also holds
/// `libstdc++.a`, so the archive is there whichever folder the compiler
/// driver picks.
func hasStaticCxxRuntime() -> Bool {
    #if canImport(Glibc)
    var found = glob_t()
    defer { globfree(&found) }
    guard glob("/usr/lib/gcc/*/*/libstdc++.so", 0, nil, &found) == 0, found.gl_pathc > 0 else { return false }
    for i in 0..<Int(found.gl_pathc) {
        guard let path = found.gl_pathv[i] else { return false }
        let archive = String(String(cString: path).dropLast(2)) + "a"
        if access(archive, R_OK) != 0 { return false }
    }
    return true
    #else
    return false
    #endif
}

let package = Package(
    name: "Vigil",
    products: [
        // Everything in one import: `import Vigil`.
        .library(name: "Vigil", targets: ["Vigil"]),
        .library(name: "VigilCore", targets: ["VigilCore"]),
        .library(name: "VigilBackends", targets: ["VigilBackends"]),
        .library(name: "VigilJSON", targets: ["VigilJSON"]),
        .library(name: "VigilStore", targets: ["VigilStore"]),
        .library(name: "VigilRestore", targets: ["VigilRestore"]),
        .library(name: "VigilBotmux", targets: ["VigilBotmux"]),
        .executable(name: "vigil", targets: ["vigil"]),
        .executable(name: "perf", targets: ["Perf"]),
    ],
    dependencies: [],
    targets: [
        // Layer 0: the C shim. posix_spawnp, pidfd and waitpid with a deadline.
        .target(
            name: "CVigil",
            path: "CShims/CVigil",
            cSettings: [.define("_GNU_SOURCE")]
        ),
        // The package's one place for system-call plumbing: Errno, EINTR
        // retry, write-all, sleep, open/close, folder listing, thread start.
        // Not a product; VigilCore names its Errno for users.
        .target(name: "VigilSystem", swiftSettings: swiftSettings),
        // Layer 1: values, the outcome type and the prober. No Foundation.
        .target(name: "VigilCore", dependencies: ["CVigil", "VigilSystem"], swiftSettings: swiftSettings),
        // BackendKind, the one name for a session's backend (tmux, zellij,
        // herdr, pty): the store and the backends both use it and do not
        // depend on each other, so it sits below both. Not a product; both
        // re-export it.
        .target(name: "VigilBackendKind", swiftSettings: swiftSettings),
        // Order-preserving JSON (numbers keep their text), strict parser,
        // writer. A leaf shared by the store and the herdr backend.
        .target(name: "VigilJSON", swiftSettings: swiftSettings),
        // Layer 2: tmux, zellij and herdr on top of the core.
        .target(name: "VigilBackends", dependencies: ["VigilBackendKind", "VigilCore", "VigilJSON", "VigilSystem"], swiftSettings: swiftSettings),
        // The session store: order-preserving JSON, atomic durable writes, the lock.
        // It knows nothing of probes or backends beyond their names (BackendKind).
        .target(name: "VigilStore", dependencies: ["VigilBackendKind", "VigilJSON", "VigilSystem"], swiftSettings: swiftSettings),
        // Layer 3: the restore orchestrator and the worker launcher.
        .target(name: "VigilRestore", dependencies: ["VigilStore", "VigilJSON", "VigilBackends", "VigilCore", "VigilSystem"], swiftSettings: swiftSettings),
        // Layer 3b: a botmux data directory as botmux keeps it (its stores,
        // bots, heartbeats) restored in place, written as JSON.stringify would.
        .target(name: "VigilBotmux", dependencies: ["VigilRestore", "VigilStore", "VigilJSON", "VigilBackends", "VigilCore", "VigilSystem"], swiftSettings: swiftSettings),
        // The umbrella: re-exports every library module, for one import.
        .target(name: "Vigil", dependencies: ["VigilCore", "VigilBackends", "VigilJSON", "VigilStore", "VigilRestore", "VigilBotmux"], swiftSettings: swiftSettings),
        // The command line's option tables: usage, help, parsing and completions from one declaration.
        .target(name: "VigilCommandLine", swiftSettings: swiftSettings),
        // Layer 4: the command line.
        // Linked with the Swift runtime inside (Linux): the command starts in
        // about 2 ms less (no libswiftCore, Dispatch and Concurrency to load and
        // bind; figure 9), and the binary runs where no Swift toolchain is
        // installed. A flag SwiftPM calls unsafe: before SwiftPM 6.2 it makes
        // the `vigil` product (not the libraries) unusable from a versioned
        // remote dependency, which nobody builds a command line through.
        // Release builds only: the test bundle links this target too, with
        // Foundation's XCTest.
        .executableTarget(name: "vigil", dependencies: ["VigilCommandLine", "VigilBotmux", "VigilRestore", "VigilStore", "VigilJSON", "VigilBackends", "VigilCore", "VigilSystem"], exclude: ["StaticCxx"], swiftSettings: swiftSettings,
                          linkerSettings: [.unsafeFlags(commandLinkFlags, .when(platforms: [.linux], configuration: .release))]),

        // Benchmarks: `swift run -c release perf`.
        .target(
            name: "CPerfFloor",
            path: "PerfTests/CPerfFloor",
            cSettings: [.define("_GNU_SOURCE")]
        ),
        .executableTarget(
            name: "Perf",
            dependencies: ["CPerfFloor", "VigilRestore", "VigilStore", "VigilJSON", "VigilBackends", "VigilCore"],
            path: "PerfTests/Perf",
            swiftSettings: swiftSettings
        ),

        // Helpers shared by the test targets: temporary folders, fixture
        // executables, a private tmux server, the built `vigil` binary.
        .target(name: "VigilTestSupport", dependencies: ["VigilCore", "VigilBackends"], path: "Tests/VigilTestSupport", swiftSettings: swiftSettings),
        .testTarget(name: "VigilCoreTests", dependencies: ["VigilCore", "CVigil", "VigilTestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "VigilBackendsTests", dependencies: ["VigilBackends", "VigilCore", "VigilTestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "VigilJSONTests", dependencies: ["VigilJSON"], swiftSettings: swiftSettings),
        .testTarget(name: "VigilStoreTests", dependencies: ["VigilStore", "VigilJSON", "VigilTestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "VigilRestoreTests", dependencies: ["VigilRestore", "VigilStore", "VigilJSON", "VigilBackends", "VigilCore", "VigilTestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "VigilBotmuxTests", dependencies: ["VigilBotmux", "VigilRestore", "VigilStore", "VigilJSON", "VigilBackends", "VigilCore", "VigilTestSupport"],
                    exclude: ["Fixtures"], swiftSettings: swiftSettings),
        .testTarget(name: "VigilCommandLineTests", dependencies: ["VigilCommandLine", "VigilCore", "VigilTestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "VigilTests", dependencies: ["Vigil", "VigilTestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "VigilCLITests", dependencies: ["vigil", "VigilBotmux", "VigilRestore", "VigilStore", "VigilJSON", "VigilCore", "VigilTestSupport"], swiftSettings: swiftSettings),
    ]
)
