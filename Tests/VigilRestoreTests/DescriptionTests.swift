import Testing
import VigilCore
import VigilRestore
import VigilStore

/// Printing a value shows the word the command line prints, not the
/// module-qualified case name (`VigilCore.SessionState.exists`).
@Suite("Descriptions")
struct DescriptionTests {
    @Test("states, actions, backends, statuses and wait strategies print as their words", arguments: [
        ("\(SessionState.exists)", "exists"), ("\(SessionState.missing)", "missing"), ("\(SessionState.unknown)", "unknown"),
        ("\(RestoreAction.fork)", "fork"), ("\(RestoreAction.close)", "close"), ("\(RestoreAction.keep)", "keep"),
        ("\(RestoreAction.kill)", "kill"), ("\(RestoreAction.skip)", "skip"),
        ("\(BackendKind.tmux)", "tmux"), ("\(BackendKind.pty)", "pty"),
        ("\(RecordStatus.active)", "active"), ("\(RecordStatus.closed)", "closed"),
        ("\(WaitStrategy.pidfd)", "pidfd"), ("\(WaitStrategy.portable)", "portable"), ("\(WaitStrategy.automatic)", "automatic"),
    ])
    func words(printed: String, word: String) {
        #expect(printed == word)
    }

    @Test("arrays print their elements as words too")
    func inCollections() {
        #expect("\([SessionState.exists, .missing])" == "[exists, missing]")
    }
}
