import Testing
import VigilBackends
import VigilCore
import VigilTestSupport

/// A listing as large as a 100,000-session restore can meet. The fixture
/// stands in for tmux (`seq` prints the names); a real tmux server with that
/// many sessions is more than a unit test should start.
@Suite("Large listings")
struct ScaleTests {
    @Test("100,000 live names come back whole, not cut short into unknown")
    func hundredThousandNames() async throws {
        let dir = try TemporaryDirectory()
        let fixture = try Fixture(in: dir, name: "tmux", body: "seq -f 'bmx-%08g' 0 99999; exit 0")
        let backend = TmuxBackend(configuration: TmuxConfiguration(executable: fixture.path, timeout: testTimeout, retry: quickRetry(), spawner: Spawner()))
        let found = await backend.lookup()
        guard case .live(let names, _) = found.listing.answer else {
            Issue.record("listing not authoritative: \(found.listing.answer)")
            return
        }
        #expect(names.count == 100_000)
        #expect(found.answer("bmx-00099999").state == .exists)
        #expect(found.answer("bmx-00100000").state == .missing)
    }
}
