#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Table

/// The report as a plain-text table, one block per figure.
func renderTable(_ figures: [FigureResult], totalSeconds: Double, options: Options) -> String {
    var out = "Vigil perf (\(options.quick ? "quick" : "full") run, \(machineDescription()))\n"
    for figure in figures {
        out += "\n" + renderFigure(figure)
    }
    let checks = figures.flatMap(\.targets)
    let missed = checks.filter { !$0.met }.count
    out += "\nTargets: \(checks.count - missed) met, \(missed) missed (reported, not enforced). "
    out += "Total \(format(totalSeconds, decimals: 1)) s.\n"
    return out
}

private func renderFigure(_ f: FigureResult) -> String {
    var out = "Figure \(f.number) [\(f.id)]  \(f.title)"
    switch f.status {
    case .measured: break
    case .todo(let what): return out + "\n  TODO: \(what)\n"
    case .failed(let error): return out + "\n  FAILED: \(error)\n"
    }
    out += "  (\(format(f.seconds, decimals: 1)) s)\n"
    if !f.method.isEmpty { out += wrap(f.method, indent: "  ") }
    let header = pad("", 46) + column("median") + column("min") + column("max") + (f.showsP99 ? column("p99") : "") + "  unit\n"
    if !f.rows.isEmpty {
        out += header
        for row in f.rows { out += renderRow(row, p99: f.showsP99) }
    }
    if !f.ratios.isEmpty {
        out += "  ratios (median of per-round ratios)\n"
        for row in f.ratios { out += renderRow(row, p99: f.showsP99) }
    }
    for t in f.targets {
        out += "  target  \(pad(t.description, 38))  \(pad(t.measured, 10))  \(t.met ? "met" : "MISSED")\n"
    }
    for note in f.notes { out += wrap("note: " + note, indent: "  ") }
    return out
}

private func renderRow(_ row: Row, p99: Bool) -> String {
    let decimals = row.unit == .count ? 0 : (row.unit == .microseconds ? 1 : 2)
    let s = row.summary
    var line = "  " + pad(row.label, 44)
    line += column(format(s.median, decimals: decimals)) + column(format(s.min, decimals: decimals))
    line += column(format(s.max, decimals: decimals))
    if p99 { line += column(format(s.p99, decimals: decimals)) }
    return line + "  " + (row.unit == .count ? "" : row.unit.rawValue) + "\n"
}

private func column(_ text: String) -> String {
    String(repeating: " ", count: max(1, 11 - text.count)) + text
}

private func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}

/// Word-wraps `text` at 100 columns with `indent` on every line.
private func wrap(_ text: String, indent: String) -> String {
    var out = ""
    var line = indent
    for word in text.split(separator: " ") {
        if line.count + word.count + 1 > 100 && line.count > indent.count {
            out += line + "\n"
            line = indent + "  "
        }
        line += (line.hasSuffix(" ") || line == indent ? "" : " ") + word
    }
    return out + line + "\n"
}

/// Fixed-point formatting without Foundation: `format(1.0449)` is "1.04".
func format(_ value: Double, decimals: Int = 2) -> String {
    guard value.isFinite else { return "\(value)" }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    let whole = Int(scaled / scale)
    var text = (value < 0 && scaled != 0 ? "-" : "") + String(whole)
    if decimals > 0 {
        var fraction = String(Int(scaled - Double(whole) * scale))
        while fraction.count < decimals { fraction = "0" + fraction }
        text += "." + fraction
    }
    return text
}

/// "2 cores, Linux 6.1.0".
func machineDescription() -> String {
    var name = utsname()
    uname(&name)
    let release = withUnsafeBytes(of: name.release) { String(cString: $0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
    let system = withUnsafeBytes(of: name.sysname) { String(cString: $0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
    return "\(sysconf(Int32(_SC_NPROCESSORS_ONLN))) cores, \(system) \(release)"
}

// MARK: - JSON

/// The same figures as JSON: a stable shape for CI artefacts and for
/// comparing runs (`figures[].rows[].median` and so on).
func renderJSON(_ figures: [FigureResult], totalSeconds: Double, options: Options) -> String {
    let document: JSON = .object([
        ("tool", .string("vigil-perf")),
        ("schema", .number(1)),
        ("quick", .bool(options.quick)),
        ("rounds", options.rounds.map { .number(Double($0)) } ?? .null),
        ("filters", .array(options.filters.map(JSON.string))),
        ("machine", .string(machineDescription())),
        ("seconds", .number(totalSeconds)),
        ("figures", .array(figures.map(figureJSON))),
    ])
    return document.serialized() + "\n"
}

private func figureJSON(_ f: FigureResult) -> JSON {
    var fields: [(String, JSON)] = [
        ("number", .number(Double(f.number))),
        ("id", .string(f.id)),
        ("title", .string(f.title)),
    ]
    switch f.status {
    case .measured: fields.append(("status", .string("measured")))
    case .todo(let what):
        fields.append(("status", .string("todo")))
        fields.append(("todo", .string(what)))
        return .object(fields)
    case .failed(let error):
        fields.append(("status", .string("failed")))
        fields.append(("error", .string(error)))
        return .object(fields)
    }
    fields += [
        ("method", .string(f.method)),
        ("seconds", .number(f.seconds)),
        ("rows", .array(f.rows.map(rowJSON))),
        ("ratios", .array(f.ratios.map(rowJSON))),
        ("targets", .array(f.targets.map { t in
            .object([("description", .string(t.description)), ("measured", .string(t.measured)), ("met", .bool(t.met))])
        })),
        ("notes", .array(f.notes.map(JSON.string))),
    ]
    return .object(fields)
}

private func rowJSON(_ row: Row) -> JSON {
    .object([
        ("label", .string(row.label)),
        ("unit", .string(row.unit.rawValue)),
        ("median", .number(row.summary.median)),
        ("min", .number(row.summary.min)),
        ("max", .number(row.summary.max)),
        ("p99", .number(row.summary.p99)),
        ("count", .number(Double(row.summary.count))),
    ])
}

/// Just enough JSON to write the report; keys keep their order.
enum JSON {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    func serialized(indent: String = "") -> String {
        let inner = indent + "  "
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let n):
            guard n.isFinite else { return "null" }
            if n == n.rounded() && abs(n) < 1e15 { return String(Int64(n)) }
            return String(n)
        case .string(let s): return JSON.quoted(s)
        case .array(let items):
            if items.isEmpty { return "[]" }
            return "[\n" + items.map { inner + $0.serialized(indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
        case .object(let fields):
            if fields.isEmpty { return "{}" }
            return "{\n" + fields.map { inner + JSON.quoted($0.0) + ": " + $0.1.serialized(indent: inner) }
                .joined(separator: ",\n") + "\n\(indent)}"
        }
    }

    private static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

/// Writes `text` to `path`, replacing it. - Throws: `BenchError` with the errno.
func writeFile(_ path: String, _ text: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw BenchError("cannot open \(path): errno \(errno)") }
    defer { close(fd) }
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { throw BenchError("cannot write \(path): errno \(errno)") }
        offset += n
    }
}
