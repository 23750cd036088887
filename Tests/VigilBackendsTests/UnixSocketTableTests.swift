// /proc/net/unix as a pure table: parsing, what counts as listening, and
// which paths answer for a socket; then the real file on this machine, with
// a socket this test binds, listens on and deletes.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing
import VigilBackends
import VigilCore
import VigilTestSupport

@Suite("unix socket table")
struct UnixSocketTableTests {
    // MARK: - Parsing

    @Test("rows parse: hex fields, a right-aligned inode, a path with spaces, unbound and abstract sockets")
    func parse() throws {
        let text = procNetUnix(
            "ffff8a0b00000000: 00000002 00000000 00010000 0001 01    42 /tmp/tmux-0/default",
            "ffff8a0b00000001: 00000003 00000000 00000000 0001 03 19380 /tmp/a path/with spaces",
            "ffff8a0b00000002: 00000003 00000000 00000000 0001 03 19381",
            "ffff8a0b00000003: 00000002 00000000 00010000 0001 01 19382 @/tmp/.X11-unix/X0",
            "ffff8a0b00000004: 00000002 00000000 00000000 0002 01 19383 /run/systemd/notify")
        let table = try #require(UnixSocketTable.parse(Array(text.utf8)))
        #expect(table.entries == [
            UnixSocketEntry(flags: 0x10000, type: 1, state: 1, inode: 42, path: "/tmp/tmux-0/default"),
            UnixSocketEntry(flags: 0, type: 1, state: 3, inode: 19380, path: "/tmp/a path/with spaces"),
            UnixSocketEntry(flags: 0, type: 1, state: 3, inode: 19381, path: ""),
            UnixSocketEntry(flags: 0x10000, type: 1, state: 1, inode: 19382, path: "@/tmp/.X11-unix/X0"),
            UnixSocketEntry(flags: 0, type: 2, state: 1, inode: 19383, path: "/run/systemd/notify"),
        ])
        #expect(table.entries.map(\.isListening) == [true, false, false, false, false])
    }

    @Test("a file that is not the kernel's table is refused; broken rows are skipped")
    func refuseOrSkip() throws {
        #expect(UnixSocketTable.parse([]) == nil)
        #expect(UnixSocketTable.parse(Array("Num RefCount\n".utf8)) == nil)
        #expect(UnixSocketTable.parse(Array("garbage\n0000: 00000002 00000000 00010000 0001 01 1 /x\n".utf8)) == nil)
        let table = try #require(UnixSocketTable.parse(Array(procNetUnix(
            "not a row",
            "0000: 00000002 00000000 zz 0001 01 1 /bad/flags",
            "0000: 00000002 00000000 00010000 0001 01 7 /good").utf8)))
        #expect(table.entries.map(\.path) == ["/good"])
    }

    @Test("bound and unconnected without accepting (a server between bind and listen) counts as listening")
    func boundNotYetListening() {
        #expect(UnixSocketEntry(flags: 0, type: 1, state: 1, inode: 1, path: "/s").isListening)
        #expect(!UnixSocketEntry(flags: 0, type: 1, state: 3, inode: 1, path: "/s").isListening)
        #expect(!UnixSocketEntry(flags: 0x10000, type: 5, state: 1, inode: 1, path: "/s").isListening)
    }

    // MARK: - Presence

    static let table = UnixSocketTable.parse(Array(procNetUnix(
        "0000: 00000002 00000000 00010000 0001 01 101 /tmp/tmux-0/default",
        "0000: 00000002 00000000 00010000 0001 01 102 /srv/alt/tmux-0/work",
        "0000: 00000003 00000000 00000000 0001 03 103 /tmp/tmux-0/gone",
        "0000: 00000002 00000000 00010000 0001 01 104 relsock",
        "0000: 00000002 00000000 00010000 0001 01 105 /var/run/bot/other-dir/work").utf8))!

    @Test("a listener on exactly the path", arguments: [
        ("/tmp/tmux-0/default", SocketPresence.listening(inode: 101)),
        ("relsock", .listening(inode: 104)),
    ])
    func exact(path: String, expected: SocketPresence) {
        #expect(Self.table.presence(at: path) == expected)
    }

    @Test("the same socket name in another tmux-UID directory (a TMUX_TMPDIR mismatch)")
    func sameNameElsewhere() {
        #expect(Self.table.presence(at: "/tmp/tmux-0/work") == .sameNameElsewhere(path: "/srv/alt/tmux-0/work", inode: 102))
        #expect(Self.table.presence(at: "/other/tmux-0/default") == .sameNameElsewhere(path: "/tmp/tmux-0/default", inode: 101))
    }

    @Test("no listener: another user's directory, only connected sockets, another name")
    func none() {
        #expect(Self.table.presence(at: "/tmp/tmux-1000/default") == .noListener)
        #expect(Self.table.presence(at: "/tmp/tmux-0/gone") == .noListener)
        #expect(Self.table.presence(at: "/tmp/tmux-0/never") == .noListener)
    }

    @Test("a relative path cannot be placed: the same file name anywhere counts")
    func relative() {
        #expect(Self.table.presence(at: "/somewhere/relsock") == .sameNameElsewhere(path: "relsock", inode: 104))
        #expect(Self.table.presence(at: "default") == .sameNameElsewhere(path: "/tmp/tmux-0/default", inode: 101))
    }

    @Test("an unreadable table tells nothing")
    func unreadable() {
        #expect(UnixSocketSource.unavailable("no").presence(at: "/x") == .cannotTell(reason: "no"))
        if case .cannotTell = UnixSocketSource.fixed("not the table").presence(at: "/x") {} else {
            Issue.record("a table in another format must tell nothing")
        }
    }

    // MARK: - The real /proc/net/unix

    @Test("a socket whose file was deleted still listens at its path in /proc/net/unix")
    func deletedSocketStillListed() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("listener")
        let fd = try listeningSocket(at: path)
        let inode = try socketInode(fd)
        #expect(UnixSocketSource.system.presence(at: path) == .listening(inode: inode))
        #expect(unlink(path) == 0)
        #expect(access(path, F_OK) != 0)
        #expect(UnixSocketSource.system.presence(at: path) == .listening(inode: inode), "deleted, still listening")
        close(fd)
        // A child another test is spawning at this moment may hold a copy of
        // the descriptor until its exec; the row goes once the last copy does.
        #expect(waitUntil(milliseconds: 20_000) { UnixSocketSource.system.presence(at: path) == .noListener })
    }
}

/// A listening unix stream socket bound at `path`.
func listeningSocket(at path: String) throws -> Int32 {
    #if canImport(Glibc)
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    #else
    let fd = socket(AF_UNIX, SOCK_STREAM, 0)
    #endif
    guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { close(fd); throw TestFailure("path too long") }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        for (i, b) in bytes.enumerated() { raw[i] = b }
        raw[bytes.count] = 0
    }
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard bound == 0, listen(fd, 4) == 0 else { close(fd); throw TestFailure("bind/listen \(path): errno \(errno)") }
    return fd
}

/// The sockfs inode of descriptor `fd`, from `/proc/self/fd/FD -> socket:[INODE]`.
func socketInode(_ fd: Int32) throws -> UInt64 {
    var buffer = [CChar](repeating: 0, count: 64)
    let n = readlink("/proc/self/fd/\(fd)", &buffer, buffer.count - 1)
    let link = n > 0 ? String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
    guard link.hasPrefix("socket:["), link.hasSuffix("]"), let inode = UInt64(link.dropFirst(8).dropLast()) else {
        throw TestFailure("not a socket: \(link)")
    }
    return inode
}
