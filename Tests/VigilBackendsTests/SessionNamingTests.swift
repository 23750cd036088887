// Session names: derived from the id the same way everywhere, and refused
// (never sent) when a backend cannot hold or look them up exactly.
import Testing
import VigilBackends
import VigilCore

struct NameRow: Sendable, CustomTestStringConvertible {
    let kind: BackendKind
    let name: String
    /// `nil` when the name is valid.
    let code: SessionNameError.Code?

    var testDescription: String { "\(kind) \(name.debugDescription) -> \(code.map { $0.rawValue } ?? "valid")" }
}

private let nameRows: [NameRow] = [
    NameRow(kind: .tmux, name: "bmx-3f9a1c2e", code: nil),
    NameRow(kind: .tmux, name: "with space", code: nil),
    NameRow(kind: .tmux, name: "bmx-*", code: nil),
    NameRow(kind: .tmux, name: "", code: .empty),
    NameRow(kind: .tmux, name: "a\u{0}b", code: .controlCharacter),
    NameRow(kind: .tmux, name: "a\nb", code: .controlCharacter),
    NameRow(kind: .tmux, name: "a\u{7F}", code: .controlCharacter),
    NameRow(kind: .tmux, name: "a\u{85}", code: .controlCharacter),
    NameRow(kind: .tmux, name: "a:b", code: .forbiddenCharacter),
    NameRow(kind: .tmux, name: "a.b", code: .forbiddenCharacter),
    NameRow(kind: .tmux, name: "$1", code: .forbiddenFirstCharacter),
    NameRow(kind: .tmux, name: "a$1", code: nil),
    NameRow(kind: .tmux, name: "café", code: .nonASCII),
    NameRow(kind: .zellij, name: "bmx-3f9a1c2e", code: nil),
    NameRow(kind: .zellij, name: "a.b:c", code: nil),
    NameRow(kind: .zellij, name: "café au lait", code: nil),
    NameRow(kind: .zellij, name: "", code: .empty),
    NameRow(kind: .zellij, name: "a\tb", code: .controlCharacter),
    NameRow(kind: .zellij, name: "a/b", code: .forbiddenCharacter),
    NameRow(kind: .zellij, name: "-x", code: .forbiddenFirstCharacter),
    NameRow(kind: .zellij, name: " x", code: .surroundingWhitespace),
    NameRow(kind: .zellij, name: "x ", code: .surroundingWhitespace),
    NameRow(kind: .herdr, name: "bmx-3f9a1c2e", code: nil),
    NameRow(kind: .herdr, name: "a:b.c/d é", code: nil),
    NameRow(kind: .herdr, name: "", code: .empty),
    NameRow(kind: .herdr, name: "a\rb", code: .controlCharacter),
    NameRow(kind: .herdr, name: "--force", code: .forbiddenFirstCharacter),
    // Printable ASCII is checked by bytes, anything else by Unicode scalars
    // and characters: the same answers both ways.
    NameRow(kind: .tmux, name: "é.b", code: .forbiddenCharacter),
    NameRow(kind: .tmux, name: "a\r\nb", code: .controlCharacter),
    NameRow(kind: .zellij, name: "é/b", code: .forbiddenCharacter),
    NameRow(kind: .zellij, name: "~/b", code: .forbiddenCharacter),
    NameRow(kind: .herdr, name: "a\u{1F}", code: .controlCharacter),
    NameRow(kind: .herdr, name: "é\u{9F}", code: .controlCharacter),
]

/// One spawner for the backends made here (they only validate names).
private let spawner = Spawner()

private func backend(_ kind: BackendKind) -> any SessionBackend {
    switch kind {
    case .tmux: return TmuxBackend(configuration: TmuxConfiguration(spawner: spawner))
    case .zellij: return ZellijBackend(configuration: ZellijConfiguration(spawner: spawner))
    case .herdr: return HerdrBackend(configuration: HerdrConfiguration(spawner: spawner))
    case .pty: return PtyBackend()
    }
}

@Suite("session names")
struct SessionNamingTests {
    @Test func defaultNamingIsPrefixAndEightCharacters() {
        #expect(SessionNaming().name(forID: "3f9a1c2e-7b4d-4c1a-9e2f-0123456789ab") == "bmx-3f9a1c2e")
        #expect(SessionNaming.standard.name(forID: "abc") == "bmx-abc")
        #expect(SessionNaming.standard.prefix == "bmx-")
        #expect(SessionNaming.standard.length == 8)
    }

    @Test func namingIsConfigurable() {
        #expect(SessionNaming(prefix: "vg_", length: 4).name(forID: "3f9a1c2e") == "vg_3f9a")
        #expect(SessionNaming(prefix: "", length: 0).name(forID: "3f9a") == "3")
    }

    @Test(arguments: nameRows)
    func validation(_ row: NameRow) {
        let b = backend(row.kind)
        do {
            try b.validate(row.name)
            #expect(row.code == nil, "accepted, expected \(String(describing: row.code))")
            #expect(b.isValid(row.name))
        } catch {
            #expect(error.code == row.code, "\(error)")
            #expect(error.backend == row.kind)
            #expect(error.name == row.name)
            #expect(error.description.hasPrefix("invalid \(row.kind) session name "))
            #expect(!b.isValid(row.name))
        }
    }

    @Test func errorDescriptionEscapesControlCharacters() {
        do {
            try TmuxBackend(configuration: TmuxConfiguration(spawner: spawner)).validate("a\u{1}b")
            Issue.record("expected a rejection")
        } catch {
            #expect(error.description == #"invalid tmux session name "a\u{01}b": it holds the control character U+0001"#)
        }
    }

    @Test func kindsAreTheThreeMultiplexersAndPty() {
        #expect(BackendKind.allCases.map(\.rawValue) == ["tmux", "zellij", "herdr", "pty"])
        #expect(BackendKind.multiplexers == [.tmux, .zellij, .herdr])
        #expect(BackendKind.allCases.filter(\.isPersistent) == BackendKind.multiplexers)
        #expect(BackendKind.allCases.map(\.description) == ["tmux", "zellij", "herdr", "pty"])
        #expect(TmuxBackend(configuration: TmuxConfiguration(spawner: spawner)).kind == .tmux)
        #expect(ZellijBackend(configuration: ZellijConfiguration(spawner: spawner)).kind == .zellij)
        #expect(HerdrBackend(configuration: HerdrConfiguration(spawner: spawner)).kind == .herdr)
        #expect(PtyBackend().kind == .pty)
    }

    /// A pty has no multiplexer: nothing is sent, every answer is `unknown`
    /// with 0 attempts (never `missing`, which only a multiplexer may say),
    /// and a kill is `rejected`.
    @Test func ptyBackendAsksNothingAndAnswersUnknown() async {
        let pty = PtyBackend()
        #expect(pty.isValid("any name: at all"))
        for probe in [await pty.probe("bmx-1"), pty.probeSynchronously("bmx-1")] {
            #expect(probe.answer == .unknown(reason: PtyBackend.reason))
            #expect(probe.attempts == 0)
            #expect(probe.usage.children == 0)
        }
        for listing in [await pty.list(), pty.listSynchronously()] {
            #expect(listing.answer == .unknown(reason: PtyBackend.reason))
            #expect(listing.attempts == 0)
        }
        #expect(await pty.probeAll(["a", "b"]).answers == ["a": .unknown(reason: PtyBackend.reason), "b": .unknown(reason: PtyBackend.reason)])
        let kill = await pty.kill("bmx-1")
        #expect(kill.status == .rejected)
        #expect(kill.attempts == 0)
        #expect(!(await pty.hasSession("bmx-1")))
    }
}

/// `name(forID:)` cuts printable ASCII ids by bytes; the name must be the one
/// the character cut gives, for every kind of id (a combining mark or a CR LF
/// right at the cut joins the character before it).
@Suite("session names cut by bytes")
struct SessionNamingCutTests {
    @Test(arguments: [
        "3f9a1c2e-0000-4000-8000-000000000001", "short", "", "exactly8", "exactly8+",
        "abcdefgh\u{301}ij", "abcdefg\r\nij", "abc\r\ndefghij", "日本語のセッション名前です", "abcdefg😀hij",
        "é-composed-id", "e\u{301}-decomposed-id", "tab\there-and-more",
    ])
    func theCutIsTheCharacterCut(_ id: String) {
        for naming in [SessionNaming(), SessionNaming(prefix: "x-", length: 1), SessionNaming(prefix: "", length: 12),
                       SessionNaming(length: Int.max), SessionNaming(prefix: "é-日本-", length: 3)] {
            #expect(naming.name(forID: id) == naming.prefix + id.prefix(naming.length))
            // From the bytes (a store's index): the same name, or nil where the cut is not plain ASCII.
            let fromBytes = Array(id.utf8).withUnsafeBufferPointer { naming.name(forIDBytes: $0) }
            if let fromBytes { #expect(fromBytes == naming.name(forID: id), "\(id)") }
            let plain = id.utf8.prefix(naming.length == Int.max ? Int.max : naming.length + 1).allSatisfy { $0 >= 0x20 && $0 < 0x7F }
            #expect((fromBytes != nil) == plain, "\(id)")
        }
    }
}

/// A forbidden ASCII character is refused as the byte the multiplexer sees,
/// even where a combining mark makes it part of a larger Character.
@Suite("forbidden bytes behind combining marks")
struct ForbiddenByteTests {
    @Test func aSlashOrADashWithACombiningMarkIsStillRefused() throws {
        let zellij = ZellijBackend(configuration: ZellijConfiguration(spawner: Spawner()))
        let herdr = HerdrBackend(configuration: HerdrConfiguration(spawner: Spawner()))
        #expect(throws: SessionNameError.self) { try zellij.validate("a/\u{301}b") }
        #expect(throws: SessionNameError.self) { try zellij.validate("-\u{301}x") }
        #expect(throws: SessionNameError.self) { try herdr.validate("-\u{301}x") }
        do {
            try zellij.validate("a/\u{301}b")
        } catch {
            #expect(error.code == .forbiddenCharacter)
        }
        // The same names without the forbidden byte pass.
        try zellij.validate("a\u{301}b")
        try herdr.validate("x-\u{301}")
    }

    @Test func aHugeLengthKeepsTheWholeId() {
        #expect(SessionNaming(length: Int.max).name(forID: "abc") == "bmx-abc")
    }
}
