import VigilCore
import VigilStore
import VigilTestSupport

// zellij and herdr cannot be installed on these machines. Their tests use
// fixture executables (small /bin/sh scripts) that reproduce the documented
// output and exit codes of `zellij list-sessions --no-formatting` and
// `herdr session list --json`, and log every call so the tests can count
// listing calls and check the exact command lines.

/// A fixture zellij: lists `live` and `exited` sessions, logs each call.
func zellijFixture(in dir: TemporaryDirectory, live: [String], exited: [String] = []) throws -> (binary: String, log: String) {
    let log = dir.file("zellij.calls")
    var listing = ""
    for n in live { listing += "\(n) [Created 12m 4s ago] \n" }
    for n in exited { listing += "\(n) [Created 2h 1m ago] (EXITED - attach to resurrect)\n" }
    let script = """
    #!/bin/sh
    echo "$*" >> \(log)
    case "$1" in
      list-sessions) printf '%s' '\(listing)'; exit 0 ;;
      kill-session|delete-session) exit 0 ;;
    esac
    exit 2
    """
    return (try dir.fixture("zellij", script), log)
}

/// A fixture herdr whose daemon cannot be reached: exit 1, a message, no JSON.
func unreachableHerdr(in dir: TemporaryDirectory) throws -> (binary: String, log: String) {
    let log = dir.file("herdr.calls")
    let script = """
    #!/bin/sh
    echo "$*" >> \(log)
    echo "error: could not connect to the herdr daemon" >&2
    exit 1
    """
    return (try dir.fixture("herdr", script), log)
}

/// A worker fixture: writes a marker named after the session id, then exits.
func markerWorker(in dir: TemporaryDirectory) throws -> String {
    try dir.fixture("worker", "#!/bin/sh\necho \"$2\" > \(dir.path)/worker-$1.ran\n")
}

/// Number of lines in a call log (0 when absent).
func callCount(_ log: String) -> Int {
    ((try? readText(log)) ?? "").split(separator: "\n").count
}

/// Builds one store record as JSON text, with a daemon-owned nested field.
func recordJSON(id: String, backend: String, status: String = "active", socket: String? = nil, cli: String? = "claude", extra: String = "") -> String {
    var s = "{\"id\": \"\(id)\", \"backend\": \"\(backend)\", \"status\": \"\(status)\""
    if let socket { s += ", \"socket\": \"\(socket)\"" }
    if let cli { s += ", \"cliId\": \"\(cli)\"" }
    s += ", \"daemon\": {\"chat\": 42, \"ratio\": 1.0, \"tags\": [\"a\", {\"deep\": null}]}\(extra)}"
    return s
}

/// A whole store document.
func storeJSON(_ records: [String], extraTopLevel: String = "") -> String {
    "{\"version\": 1, \"sessions\": [\n  " + records.joined(separator: ",\n  ") + "\n]\(extraTopLevel)}\n"
}

/// Reads and parses a store, failing the test if it does not parse.
func loadStore(_ path: String) throws -> SessionStore {
    try StoreFile(path: path).load()
}
