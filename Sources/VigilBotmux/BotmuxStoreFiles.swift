// The store files of a data directory, as botmux names them
// (src/services/session-store.ts `getFilePath`, `loadAllSessionsSnapshot`):
// `sessions-<larkAppId>.json` for each bot and the legacy `sessions.json`.
// Nothing else matches: not botmux's temporary files
// (`sessions-X.json.<pid>.<uuid>.tmp`), not its lock files
// (`sessions-X.json.lock`), and not Vigil's temporary files, which start
// with a dot.

public import VigilStore
import VigilSystem

/// One store file.
public struct BotmuxStoreFile: Sendable, Hashable {
    /// The file's path.
    public var path: String
    /// The bot of a per-bot store; nil for the legacy `sessions.json`.
    public var larkAppId: String?

    /// Creates a value.
    public init(path: String, larkAppId: String?) {
        self.path = path
        self.larkAppId = larkAppId
    }

    /// True for `sessions.json`.
    public var isLegacy: Bool { larkAppId == nil }

    /// The bot a file name belongs to: `.some(nil)` for `sessions.json`,
    /// `.some(id)` for `sessions-<id>.json` with a non-empty id, nil for any
    /// other name.
    static func owner(ofName name: String) -> String?? {
        if name == "sessions.json" { return .some(nil) }
        guard name.hasPrefix("sessions-"), name.hasSuffix(".json"), name.count > "sessions-.json".count else { return nil }
        return .some(String(name.dropFirst("sessions-".count).dropLast(".json".count)))
    }

    /// The store files of `dataDirectory`: the legacy file first, then the
    /// per-bot files by name. Only regular files (symlinks to them included).
    /// - Throws: `.notFound` when the directory does not exist or is not a
    ///   directory; `.cannotWrite` when it cannot be listed.
    public static func list(in dataDirectory: String) throws(StoreError) -> [BotmuxStoreFile] {
        switch BotmuxSystem.kind(of: dataDirectory, followLinks: true) {
        case .directory: break
        case .missing:
            throw StoreError(.notFound, path: dataDirectory, message: "no such botmux data directory")
        default:
            throw StoreError(.notFound, path: dataDirectory, message: "is not a directory (expected a botmux data directory)")
        }
        let names: [String]
        switch BotmuxSystem.listFolder(dataDirectory) {
        case .success(let listed): names = listed
        case .failure(let error):
            throw StoreError(.cannotWrite, path: dataDirectory, message: "cannot list the botmux data directory: \(error.message)", underlyingErrno: error.rawValue)
        }
        var files: [BotmuxStoreFile] = []
        for name in names {
            guard let owner = owner(ofName: name) else { continue }
            let path = BotmuxPath.join(dataDirectory, name)
            guard case .regularFile = BotmuxSystem.kind(of: path, followLinks: true) else { continue }
            files.append(BotmuxStoreFile(path: path, larkAppId: owner))
        }
        return files.sorted { ($0.isLegacy ? 0 : 1, $0.path) < ($1.isLegacy ? 0 : 1, $1.path) }
    }
}
