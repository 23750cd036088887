// Who holds an exclusive-create lock, in botmux's words, and whether that
// process is still alive.
//
// The payload is what botmux's `currentLockHolderPayload()` writes:
// `JSON.stringify({pid, procStart?, bootId?})`, so exactly
// `{"pid":123,"procStart":"456789","bootId":"0d9c...-..."}` with the keys in
// that order, no spaces and no newline; or the bare pid (`123`) where neither
// identity can be read. `procStart` is field 22 of `/proc/<pid>/stat` (the
// start time in clock ticks since boot, taken after the last `)` so a command
// name with spaces or parentheses cannot shift it) and `bootId` is
// `/proc/sys/kernel/random/boot_id`, lowercased. Parsing and the liveness
// rules follow `parseLockHolder` and `isHolderAlive` in
// `src/utils/file-lock.ts` and `src/utils/process-identity.ts`, with one
// deliberate difference: a process that exists but may not be signalled
// (`kill` answers EPERM, another user's process) is alive here, where botmux
// treats it as dead. Vigil never breaks a lock on a guess.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif // canImport(Glibc)
import VigilJSON

/// The process named in an exclusive-create lock file.
struct LockHolder: Sendable, Equatable {
    /// The holder's process id (> 1).
    var pid: Int
    /// Field 22 of `/proc/<pid>/stat` when the lock was taken.
    var processStart: String?
    /// The kernel's boot id when the lock was taken.
    var bootID: String?

    /// This process, as botmux would describe it.
    static func current() -> LockHolder {
        let pid = Int(system_getpid())
        return LockHolder(pid: pid, processStart: processStart(of: pid), bootID: currentBootID())
    }

    /// The lock file's content, byte for byte what botmux writes.
    var payload: [UInt8] {
        guard processStart != nil || bootID != nil else { return Array(String(pid).utf8) }
        // Both values are digits, hex and dashes (checked where they are
        // read), so they need no escaping.
        var text = "{\"pid\":\(pid)"
        if let processStart { text += ",\"procStart\":\"\(processStart)\"" }
        if let bootID { text += ",\"bootId\":\"\(bootID)\"" }
        return Array((text + "}").utf8)
    }

    /// Reads a lock file's content as botmux's `parseLockHolder` does; `nil`
    /// for an empty or unreadable payload.
    init?(payload bytes: [UInt8]) {
        let text = Self.trimmed(bytes)
        guard !text.isEmpty else { return nil }
        if text.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            guard let pid = Self.safeInteger(String(decoding: text, as: UTF8.self)), pid > 1 else { return nil }
            self.init(pid: pid, processStart: nil, bootID: nil)
            return
        }
        guard case .object(let object)? = try? JSONValue.parse(Array(text)),
              case .number(let pidText)? = object["pid"], let pid = Self.safeInteger(pidText), pid > 1 else { return nil }
        func identity(_ key: String) -> String?? {
            switch object[key] {
            case nil: return .some(nil)
            case .string(let value) where !value.isEmpty && value.utf16.count <= 256: return .some(value)
            default: return nil // present but not a usable string: the whole payload is invalid
            }
        }
        guard let processStart = identity("procStart"), let bootID = identity("bootId") else { return nil }
        self.init(pid: pid, processStart: processStart, bootID: bootID)
    }

    init(pid: Int, processStart: String?, bootID: String?) {
        self.pid = pid
        self.processStart = processStart
        self.bootID = bootID
    }

    // MARK: - Liveness

    /// Whether the holder may still be running, and why.
    enum Liveness: Equatable {
        case alive(String)
        case dead(String)
    }

    /// botmux's `isHolderAlive`: another boot id means dead; a readable
    /// start time decides; otherwise the pid's existence does.
    func liveness() -> Liveness {
        if let bootID {
            guard let live = Self.currentBootID() else { return .alive("the boot id cannot be read") }
            if live != bootID { return .dead("pid \(pid) ran under another boot") }
        }
        if let processStart, let live = Self.processStart(of: pid) {
            return live == processStart
                ? .alive("pid \(pid) is running")
                : .dead("pid \(pid) is another process now (started at \(live), not \(processStart))")
        }
        if pid == Int(system_getpid()) { return .alive("pid \(pid) is this process") }
        guard let narrow = Int32(exactly: pid) else { return .dead("pid \(pid) cannot exist") }
        return system_processExists(narrow) ? .alive("pid \(pid) is running") : .dead("pid \(pid) is not running")
    }

    // MARK: - Identities

    /// Field 22 of `/proc/<pid>/stat` (botmux's `readProcessStartIdentity`
    /// on Linux), or nil where it cannot be read.
    static func processStart(of pid: Int) -> String? {
        guard pid > 1, let bytes = system_readSmallFile("/proc/\(pid)/stat", limit: 4096),
              let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        // `raw.slice(closeParen + 2).trim().split(/\s+/)[19]`
        let rest = bytes.dropFirst(close + 2)
        let fields = rest.split(whereSeparator: { isJavaScriptWhitespace($0) })
        guard fields.count > 19 else { return nil }
        let field = fields[19]
        guard !field.isEmpty, field.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        return String(decoding: field, as: UTF8.self)
    }

    /// `/proc/sys/kernel/random/boot_id`, lowercased, if it reads as a UUID
    /// (botmux's `readLinuxBootIdentity`).
    static func currentBootID() -> String? {
        guard let bytes = system_readSmallFile("/proc/sys/kernel/random/boot_id", limit: 128) else { return nil }
        let text = trimmed(bytes)
        guard isUUID(text) else { return nil }
        return String(decoding: text, as: UTF8.self).lowercased()
    }

    /// `8-4-4-4-12` hexadecimal digits, either case.
    static func isUUID(_ text: some Collection<UInt8>) -> Bool {
        let groups = text.split(separator: UInt8(ascii: "-"), omittingEmptySubsequences: false)
        guard groups.map(\.count) == [8, 4, 4, 4, 12] else { return false }
        return text.allSatisfy { byte in
            byte == UInt8(ascii: "-") || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || (byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "f"))
        }
    }

    /// `String.prototype.trim` for the ASCII whitespace a lock file can hold.
    static func trimmed(_ bytes: [UInt8]) -> ArraySlice<UInt8> {
        var slice = bytes[...]
        while let first = slice.first, isJavaScriptWhitespace(first) { slice = slice.dropFirst() }
        while let last = slice.last, isJavaScriptWhitespace(last) { slice = slice.dropLast() }
        return slice
    }

    static func isJavaScriptWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (byte >= 0x09 && byte <= 0x0d)
    }

    /// `Number(text)` when it is a safe integer (`Number.isSafeInteger`).
    static func safeInteger(_ text: String) -> Int? {
        guard let value = Double(text), value.isFinite, value == value.rounded(.towardZero),
              abs(value) <= 9_007_199_254_740_991 else { return nil }
        return Int(value)
    }
}
