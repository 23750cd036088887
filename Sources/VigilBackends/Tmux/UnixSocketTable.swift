// What the kernel says about bound unix sockets, to confirm or refuse
// tmux's "no server" answers. Pure: bytes of /proc/net/unix in, facts out.

/// One row of `/proc/net/unix`.
///
/// The kernel prints (net/unix/af_unix.c, `unix_seq_show`)
/// `Num: RefCount Protocol Flags Type St Inode [Path]`, the numbers in hex
/// except the inode, and the path as it was bound. A socket whose file was
/// deleted keeps its row and its path as long as it is open: that is how a
/// tmux server whose socket file a `/tmp` cleaner removed can still be found.
public struct UnixSocketEntry: Sendable, Hashable {
    /// `Flags`: `__SO_ACCEPTCON` (0x10000) is set on a listening socket.
    public var flags: UInt32
    /// `Type`: 1 is `SOCK_STREAM` (what tmux uses), 2 `SOCK_DGRAM`, 5 `SOCK_SEQPACKET`.
    public var type: UInt32
    /// `St`: 1 `SS_UNCONNECTED` (listening or bound), 3 `SS_CONNECTED`.
    public var state: UInt32
    /// The socket's inode (in sockfs, not the file system): `socket:[INODE]` in `/proc/PID/fd`.
    public var inode: UInt64
    /// The bound path; empty when unbound; starts with `@` for an abstract name.
    public var path: String

    /// Creates an entry.
    public init(flags: UInt32, type: UInt32, state: UInt32, inode: UInt64, path: String) {
        self.flags = flags
        self.type = type
        self.state = state
        self.inode = inode
        self.path = path
    }

    /// A stream socket bound to a file-system path that accepts connections
    /// (`__SO_ACCEPTCON`), or is bound and unconnected (a server between
    /// `bind` and `listen`): either way a server is, or is about to be, there.
    public var isListening: Bool {
        guard type == 1, !path.isEmpty, !path.hasPrefix("@") else { return false }
        return flags & 0x10000 != 0 || state == 1
    }
}

/// The rows of `/proc/net/unix`.
public struct UnixSocketTable: Sendable, Hashable {
    /// Every row that parsed, in file order.
    public var entries: [UnixSocketEntry]

    /// Creates a table from entries.
    public init(entries: [UnixSocketEntry]) { self.entries = entries }

    /// Parses the text of `/proc/net/unix`.
    ///
    /// - Returns: `nil` when the header is not the kernel's (`Num RefCount
    ///   Protocol Flags Type St Inode Path`): a file that does not look like
    ///   the table proves nothing. Rows that do not parse are skipped; that
    ///   can only hide a row, never invent one that could make an answer
    ///   `missing` (absence of a listener is what `missing` needs, so a row
    ///   made of a path holding a newline can at worst turn it into `unknown`).
    public static func parse(_ bytes: [UInt8]) -> UnixSocketTable? {
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true)[...]
        guard let header = lines.popFirst() else { return nil }
        let columns = header.split(separator: UInt8(ascii: " ")).map { String(decoding: $0, as: UTF8.self) }
        guard columns.starts(with: ["Num", "RefCount", "Protocol", "Flags", "Type", "St", "Inode"]) else { return nil }
        var entries: [UnixSocketEntry] = []
        entries.reserveCapacity(lines.count)
        for line in lines {
            if let entry = parseRow(line) { entries.append(entry) }
        }
        return UnixSocketTable(entries: entries)
    }

    /// One row: seven space-separated fields (the inode right-aligned, so
    /// runs of spaces), then, for a bound socket, one space and the path to
    /// the end of the line (a path may hold spaces).
    static func parseRow(_ line: ArraySlice<UInt8>) -> UnixSocketEntry? {
        var fields: [ArraySlice<UInt8>] = []
        var i = line.startIndex
        while fields.count < 7 {
            while i < line.endIndex && line[i] == UInt8(ascii: " ") { i += 1 }
            guard i < line.endIndex else { return nil }
            let start = i
            while i < line.endIndex && line[i] != UInt8(ascii: " ") { i += 1 }
            fields.append(line[start..<i])
        }
        guard fields[0].last == UInt8(ascii: ":"),
              let flags = UInt32(String(decoding: fields[3], as: UTF8.self), radix: 16),
              let type = UInt32(String(decoding: fields[4], as: UTF8.self), radix: 16),
              let state = UInt32(String(decoding: fields[5], as: UTF8.self), radix: 16),
              let inode = UInt64(String(decoding: fields[6], as: UTF8.self)) else { return nil }
        var path = ""
        if i < line.endIndex {
            // Exactly one separator; whatever follows, spaces included, is the path.
            path = String(decoding: line[(i + 1)...], as: UTF8.self)
        }
        return UnixSocketEntry(flags: flags, type: type, state: state, inode: inode, path: path)
    }

    /// Whether a server listens at `path`, or a server of the same socket
    /// name listens elsewhere. Pure.
    ///
    /// - A listening stream socket bound to exactly `path`: `.listening`.
    /// - None, but one with the same last two path components (for tmux's
    ///   own sockets: `tmux-UID/NAME`, the same user and socket name under
    ///   another `TMUX_TMPDIR`), or the same file name where either path is
    ///   relative (a relative `-S` path cannot be placed): `.sameNameElsewhere`.
    /// - Otherwise: `.noListener`.
    public func presence(at path: String) -> SocketPresence {
        if let exact = entries.first(where: { $0.isListening && $0.path == path }) {
            return .listening(inode: exact.inode)
        }
        let asked = PathParts(path)
        for entry in entries where entry.isListening && entry.path != path {
            let other = PathParts(entry.path)
            guard other.name == asked.name else { continue }
            if other.parentName == asked.parentName || !asked.absolute || !other.absolute {
                return .sameNameElsewhere(path: entry.path, inode: entry.inode)
            }
        }
        return .noListener
    }
}

/// What the socket table says about one socket path.
public enum SocketPresence: Sendable, Hashable {
    /// Nothing listens at the path, nor under the same name elsewhere.
    case noListener
    /// A server listens on exactly this path (its file may be gone).
    case listening(inode: UInt64)
    /// Nothing at the path, but a server with the same socket name listens at `path`.
    case sameNameElsewhere(path: String, inode: UInt64)
    /// The table could not be read: nothing can be established.
    case cannotTell(reason: String)
}

/// The last two components of a path, and whether it is absolute.
private struct PathParts {
    let name: Substring
    let parentName: Substring
    let absolute: Bool

    init(_ path: String) {
        absolute = path.hasPrefix("/")
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        name = parts.last ?? ""
        parentName = parts.count >= 2 ? parts[parts.count - 2] : ""
    }
}

/// Where `/proc/net/unix` comes from, and how the process behind a socket
/// is found: the real kernel by default, fixed text in tests.
public struct UnixSocketSource: Sendable {
    /// The table, or why it cannot be had.
    let table: @Sendable () -> Result<UnixSocketTable, UnixSocketSourceError>
    /// The pid of a process of this user holding socket inode N, if one is found.
    let owner: @Sendable (UInt64) -> Int32?

    /// Creates a source from its two functions.
    public init(table: @escaping @Sendable () -> Result<UnixSocketTable, UnixSocketSourceError>,
                owner: @escaping @Sendable (UInt64) -> Int32? = { _ in nil }) {
        self.table = table
        self.owner = owner
    }

    /// This machine: `/proc/net/unix` read afresh on every call (only tmux's
    /// "no server" answers need it), owners found through `/proc/PID/fd`
    /// of this user's `tmux` processes. Where there is no `/proc/net/unix`
    /// (another platform, no procfs), every read fails, so a "no server"
    /// answer is `unknown`, never a guess.
    public static var system: UnixSocketSource {
        UnixSocketSource(table: { ProcNet.readUnixTable() }, owner: { ProcNet.socketOwner(inode: $0) })
    }

    /// A fixed table (its text as the kernel would print it), for tests.
    public static func fixed(_ text: String, owners: [UInt64: Int32] = [:]) -> UnixSocketSource {
        let parsed = UnixSocketTable.parse(Array(text.utf8))
        return UnixSocketSource(
            table: { parsed.map { .success($0) } ?? .failure(UnixSocketSourceError(reason: "not the format of /proc/net/unix")) },
            owner: { owners[$0] })
    }

    /// A table that cannot be read, for tests.
    public static func unavailable(_ reason: String) -> UnixSocketSource {
        UnixSocketSource(table: { .failure(UnixSocketSourceError(reason: reason)) })
    }

    /// Reads the table and answers for `path` (one read per call).
    public func presence(at path: String) -> SocketPresence {
        switch table() {
        case .success(let table): return table.presence(at: path)
        case .failure(let error): return .cannotTell(reason: error.reason)
        }
    }
}

/// Why the socket table could not be had.
public struct UnixSocketSourceError: Error, Sendable, Hashable {
    /// In words, for the answer's reason ("/proc/net/unix: EACCES").
    public var reason: String

    /// Creates an error.
    public init(reason: String) { self.reason = reason }
}
