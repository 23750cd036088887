#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VigilCore
import VigilJSON
import VigilSystem

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
    static let ioError: Int32 = 74      // EX_IOERR: the report could not be written
    static let tempFail: Int32 = 75     // EX_TEMPFAIL
}

/// Which of the standard descriptors 0, 1 and 2 were closed when vigil
/// started. Each is reopened on /dev/null at once, so no file the run opens
/// later (the store's temporary file, its lock) can land on descriptor 1 and
/// receive the report; writes meant for a closed one still fail, with EBADF.
let closedAtStart: Set<Int32> = {
    var closed: Set<Int32> = []
    for fd: Int32 in 0...2 where fcntl(fd, F_GETFD) == -1 && errno == EBADF {
        closed.insert(fd)
        let null = open("/dev/null", O_RDWR)
        if null >= 0 && null != fd {
            // The lowest free descriptor was not `fd` (cannot happen in
            // order 0, 1, 2, but never leave a stray one behind).
            _ = dup2(null, fd)
            close(null)
        }
    }
    return closed
}()

/// Buffered output with explicit flushing; one write(2) per flush. The
/// first failed write is kept in `failure` and drops what follows.
///
/// Large output (a 100,000-record report) goes through it as it is
/// produced: the buffer is flushed whenever it holds more than
/// `flushThreshold` bytes, so it never grows much past that.
struct OutputStream {
    /// Bytes held before a write(2): 64 KiB.
    static let flushThreshold = 1 << 16

    let fd: Int32
    var buffer: [UInt8] = []
    /// Why output was lost (EPIPE, ENOSPC, EBADF for a descriptor closed at start), or `nil`.
    private(set) var failure: Errno? = nil

    init(fd: Int32) {
        self.fd = fd
        if closedAtStart.contains(fd) { failure = Errno(rawValue: EBADF) }
    }

    mutating func line(_ text: String = "") {
        buffer.append(contentsOf: text.utf8)
        buffer.append(UInt8(ascii: "\n"))
        flushIfFull()
    }

    mutating func bytes(_ b: [UInt8]) {
        buffer.append(contentsOf: b)
        flushIfFull()
    }

    /// Writes what is buffered once it is over `flushThreshold`: called
    /// after each record of a large report.
    mutating func flushIfFull() {
        if buffer.count > Self.flushThreshold { flush() }
    }

    /// True once a write has failed: what follows would be dropped, so a
    /// long report may stop producing it.
    var failed: Bool { failure != nil }

    /// Writes what is buffered. - Returns: false once any write has failed.
    @discardableResult
    mutating func flush() -> Bool {
        if failure == nil {
            if case .failure(let error) = system_writeAll(fd, buffer) { failure = error }
        }
        buffer.removeAll(keepingCapacity: true)
        return failure == nil
    }

    /// Flushes; on failure prints one `Error:` line saying what was lost and
    /// `afterwards` (what had already happened), and returns exit 74.
    mutating func finish(_ what: String, afterwards: @autoclosure () -> String) -> Int32? {
        guard !flush(), let failure else { return nil }
        printError("cannot write \(what) to stdout: \(failure); \(afterwards())")
        return ExitCode.ioError
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
    guard let widths = columnWidths(rows) else { return [] }
    return rows.map { row in
        var line = ""
        for (i, cell) in row.enumerated() {
            line += cell
            if i < widths.count { line += String(repeating: " ", count: widths[i] - cellWidth(cell) + 2) }
        }
        return line
    }
}

/// The width of every column of `rows` but the last (which is not padded):
/// its widest cell. The first row sets the number of columns; nil when
/// there is no row.
func columnWidths(_ rows: some Sequence<[String]>) -> [Int]? {
    var remaining = rows.makeIterator()
    guard var row = remaining.next() else { return nil }
    var widths = [Int](repeating: 0, count: max(row.count - 1, 0))
    while true {
        for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cellWidth(cell)) }
        guard let next = remaining.next() else { return widths }
        row = next
    }
}

/// A cell's width in a table: its Characters. Printable ASCII (what ids,
/// names and escaped reasons nearly always are) is one Character a byte,
/// counted without the grapheme breaking `count` does.
func cellWidth(_ cell: String) -> Int {
    isPrintableASCII(cell) ? cell.utf8.count : cell.count
}

/// True when `text` is printable ASCII only (0x20...0x7E): no control
/// character in it, one Character a byte. Checked on the bytes, which is
/// much cheaper than decoding scalars or graphemes.
func isPrintableASCII(_ text: String) -> Bool {
    text.utf8.withContiguousStorageIfAvailable { $0.allSatisfy { $0 >= 0x20 && $0 < 0x7F } }
        ?? text.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
}

extension OutputStream {
    /// `table(rows)`, written line by line as it is produced: `rows` is
    /// read twice (to measure the columns, then to write), never held, so a
    /// lazy collection of 100,000 rows costs one row's memory.
    mutating func table(_ rows: some Collection<[String]>) {
        guard let widths = columnWidths(rows) else { return }
        for row in rows {
            if failed { return }
            for (i, cell) in row.enumerated() {
                var cell = cell
                cell.withUTF8 { buffer.append(contentsOf: $0) }
                if i < widths.count {
                    buffer.append(contentsOf: repeatElement(UInt8(ascii: " "), count: widths[i] - cellWidth(cell) + 2))
                }
            }
            buffer.append(UInt8(ascii: "\n"))
            flushIfFull()
        }
    }

    // MARK: - JSON written as it is produced

    /// Bytes written as they are: punctuation and keys known at compile
    /// time (`{"schema":1,"sessions":[`).
    mutating func raw(_ text: StaticString) {
        buffer.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// A JSON string, escaped by VigilJSON's one escaper (`JSONWriter`).
    mutating func jsonString(_ text: String) {
        JSONWriter.appendQuoted(text, to: &buffer)
    }

    /// A JSON string, or `null`.
    mutating func jsonString(_ text: String?) {
        if let text { jsonString(text) } else { raw("null") }
    }

    /// A JSON number written as `JSONValue.integer` writes it, or `null`.
    mutating func jsonInteger(_ value: Int?) {
        guard let value else { return raw("null") }
        var text = String(value)
        text.withUTF8 { buffer.append(contentsOf: $0) }
    }

    /// `true` or `false`.
    mutating func jsonBool(_ value: Bool) {
        value ? raw("true") : raw("false")
    }

    /// A value built as a tree and serialized compact: only for values of
    /// a size that does not grow with the store (one per report or per bot).
    mutating func json(_ value: JSONValue) {
        var writer = JSONWriter()
        writer.write(value, style: .compact, indent: 0)
        buffer.append(contentsOf: writer.bytes)
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
