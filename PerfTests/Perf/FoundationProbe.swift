// The only file that imports Foundation: `Foundation.Process` is a contender
// here, never a dependency of Vigil (Sources/ stays Foundation-free).
import Foundation

/// The same probe through `Foundation.Process`: what a Swift program gets
/// without Vigil. stdin and stdout on /dev/null, stderr captured through a
/// `Pipe` and read to EOF, then `waitUntilExit()`.
struct FoundationProbe: Sendable {
    /// Absolute path: `Process` does not search PATH.
    let path: String
    let arguments: [String]
    let environment: [String: String]

    /// - Parameter environment: `KEY=VALUE` entries, the same the other contenders get.
    init(path: String, arguments: [String], environment: [String]) {
        self.path = path
        self.arguments = arguments
        var dictionary: [String: String] = [:]
        for entry in environment {
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            dictionary[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        self.environment = dictionary
    }

    /// Runs the probe once and returns its exit code.
    func exitCode() throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        let stderr = Pipe()
        process.standardError = stderr
        try process.run()
        // Read before waiting: a child that fills the pipe would otherwise never exit.
        _ = stderr.fileHandleForReading.readDataToEndOfFile()
        try? stderr.fileHandleForReading.close()
        process.waitUntilExit()
        return process.terminationReason == .exit ? process.terminationStatus : -1
    }

    /// A contender that runs `batch` probes one after the other.
    func contender(batch: Int) -> Contender {
        Contender(label: "Foundation.Process (stderr Pipe)") {
            try timedBatch(batch) {
                let code = try exitCode()
                if code != 0 { throw BenchError("Foundation.Process: \(path) exited \(code)") }
            }
        }
    }
}
