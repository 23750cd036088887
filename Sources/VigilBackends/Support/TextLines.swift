/// Small text helpers for reading multiplexer output without Foundation.
enum TextLines {
    /// The lines of `bytes` split on `\n`, each with a trailing `\r` removed,
    /// empty lines dropped. Nothing else is trimmed: a tmux session name may
    /// hold spaces.
    static func nonEmptyLines(_ bytes: [UInt8]) -> [String] {
        var lines: [String] = []
        var start = 0
        var i = 0
        while i <= bytes.count {
            if i == bytes.count || bytes[i] == UInt8(ascii: "\n") {
                var end = i
                if end > start && bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                if end > start { lines.append(String(decoding: bytes[start..<end], as: UTF8.self)) }
                start = i + 1
            }
            i += 1
        }
        return lines
    }

    /// `bytes` without ANSI escape sequences: CSI (`ESC [ ... final`), OSC
    /// (`ESC ] ... BEL` or `ESC ] ... ESC \`) and two-byte escapes.
    static func strippingANSI(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.contains(0x1B) else { return bytes }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            guard b == 0x1B else { out.append(b); i += 1; continue }
            i += 1
            guard i < bytes.count else { break }
            switch bytes[i] {
            case UInt8(ascii: "["):
                // Parameters and intermediates (0x20...0x3F), then one final byte (0x40...0x7E).
                i += 1
                while i < bytes.count && !(0x40...0x7E).contains(bytes[i]) { i += 1 }
                i += 1
            case UInt8(ascii: "]"):
                i += 1
                while i < bytes.count {
                    if bytes[i] == 0x07 { i += 1; break }
                    if bytes[i] == 0x1B && i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\\") { i += 2; break }
                    i += 1
                }
            default:
                i += 1
            }
        }
        return out
    }
}
