// Bounds shared by the commands' numeric options. The options themselves
// are declared in CommandTable.swift (and RestoreCommand.spec); parsing,
// usage and help come from VigilCommandLine.
import VigilCommandLine

/// Upper bounds for numeric options: far beyond any sensible value, and low
/// enough that the arithmetic on them cannot overflow.
enum Limits {
    /// 24 hours.
    static let timeoutMs = 86_400_000
    static let retries = 100
    static let concurrency = 10_000
}
