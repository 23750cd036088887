#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VigilCore
import VigilJSON

/// Exit statuses (sysexits.h where one fits).
enum ExitCode {
    static let ok: Int32 = 0
    static let someMissing: Int32 = 1
    static let unknown: Int32 = 2
    static let usage: Int32 = 64        // EX_USAGE
    static let dataError: Int32 = 65    // EX_DATAERR
    static let noInput: Int32 = 66      // EX_NOINPUT
    static let unavailable: Int32 = 69  // EX_UNAVAILABLE
    static let software: Int32 = 70     // EX_SOFTWARE
    static let cannotCreate: Int32 = 73 // EX_CANTCREAT
    static let tempFail: Int32 = 75     // EX_TEMPFAIL
}

/// Buffered output with explicit flushing; one write(2) per flush.
struct OutputStream {
    let fd: Int32
    var buffer: [UInt8] = []

    init(fd: Int32) { self.fd = fd }

    mutating func line(_ text: String = "") {
        buffer.append(contentsOf: text.utf8)
        buffer.append(UInt8(ascii: "\n"))
        if buffer.count > 1 << 16 { flush() }
    }

    mutating func bytes(_ b: [UInt8]) {
        buffer.append(contentsOf: b)
        if buffer.count > 1 << 16 { flush() }
    }

    mutating func flush() {
        buffer.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = write(fd, raw.baseAddress! + off, raw.count - off)
                if n > 0 { off += n } else if n < 0 && errno == EINTR { continue } else { break }
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

/// Prints one line to stderr: `Error: message`, and for usage errors
/// `; see 'vigil COMMAND --help'` (the command taken from its usage line).
func printError(_ message: String, usage: String? = nil) {
    var err = OutputStream(fd: 2)
    if let usage {
        let words = usage.split(separator: " ")
        let command = words.count > 1 && !words[1].hasPrefix("<") ? "\(words[0]) \(words[1])" : "vigil"
        err.line("Error: \(message); see '\(command) --help'")
    } else {
        err.line("Error: \(message)")
    }
    err.flush()
}

/// Pads `rows` into aligned columns; the last column is not padded.
func table(_ rows: [[String]]) -> [String] {
    guard let width = rows.first?.count else { return [] }
    var widths = [Int](repeating: 0, count: width)
    for row in rows { for (i, cell) in row.enumerated() where i < width - 1 { widths[i] = max(widths[i], cell.count) } }
    return rows.map { row in
        var line = ""
        for (i, cell) in row.enumerated() {
            line += cell
            if i < width - 1 { line += String(repeating: " ", count: widths[i] - cell.count + 2) }
        }
        return line
    }
}

/// What the children behind an answer used, as one JSON object:
/// `{"children","unmeasured","userUs","systemUs","cpuUs","voluntarySwitches",
/// "involuntarySwitches","peakRss","peakRssBytes"}`. CPU times in whole
/// microseconds; `peakRss` is `exact`, `atMost` (a bound, not the peak) or
/// `unavailable` (then `peakRssBytes` is null).
func usageJSON(_ usage: ChildrenUsage) -> JSONValue {
    func us(_ d: Duration) -> JSONValue {
        let c = d.components
        return .integer(Int(c.seconds) * 1_000_000 + Int(c.attoseconds / 1_000_000_000_000))
    }
    let obj: JSONObject = [
        "children": .integer(usage.children), "unmeasured": .integer(usage.unmeasured),
        "userUs": us(usage.userTime), "systemUs": us(usage.systemTime), "cpuUs": us(usage.cpuTime),
        "voluntarySwitches": .integer(usage.voluntaryContextSwitches),
        "involuntarySwitches": .integer(usage.involuntaryContextSwitches),
        "peakRss": .string(usage.peakMemory.kind),
        "peakRssBytes": usage.peakMemory.upperBound.map { .integer($0) } ?? .null,
    ]
    return .object(obj)
}
