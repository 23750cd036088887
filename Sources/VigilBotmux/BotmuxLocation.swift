// Finding a botmux installation's files the way botmux itself finds them.
//
// Data directory (botmux `src/core/data-dir.ts`, `resolveBotmuxDataDir`):
//   1. `$SESSION_DATA_DIR`, trimmed, if not empty (made absolute against the
//      working directory, as Node's `path.resolve` does);
//   2. the path written in `~/.botmux/.data-dir` (the daemon's breadcrumb),
//      accepted only when that is a regular file (not a symlink) of at most
//      4096 bytes whose trimmed text is an absolute path to an existing
//      directory;
//   3. `~/.botmux/data`.
// Bots (`src/bot-registry.ts` `resolveBotConfigPath`, `src/core/config-dir.ts`):
// `$BOTS_CONFIG` names the exact file (a missing one is an error: botmux
// refuses to fall back to another registry), else `~/.botmux/bots.json`.

import VigilStore

/// The inputs botmux's discovery reads: environment variables and the
/// working directory. Passed in, so the library reads no global state and
/// tests can give any environment.
public struct BotmuxEnvironment: Sendable {
    /// Environment variables by name.
    public var variables: [String: String]
    /// The working directory relative paths are resolved against.
    public var currentDirectory: String

    /// Creates an environment from explicit values.
    public init(variables: [String: String], currentDirectory: String) {
        self.variables = variables
        self.currentDirectory = currentDirectory
    }

    /// This process's environment variables and working directory, now.
    public static func current(_ entries: [String]) -> BotmuxEnvironment {
        var variables: [String: String] = [:]
        for entry in entries {
            guard let equals = entry.firstIndex(of: "=") else { continue }
            let key = String(entry[..<equals])
            if variables[key] == nil { variables[key] = String(entry[entry.index(after: equals)...]) }
        }
        return BotmuxEnvironment(variables: variables, currentDirectory: BotmuxSystem.currentDirectory())
    }

    /// The home directory as Node's `os.homedir()` gives it on POSIX: `$HOME`
    /// when set and not empty, else the password database.
    var homeDirectory: String {
        if let home = variables["HOME"], !home.isEmpty { return home }
        return BotmuxSystem.passwordHome() ?? "/"
    }

    /// `~/.botmux`.
    public var configDirectory: String { BotmuxPath.join(homeDirectory, ".botmux") }

    /// Node's `path.resolve(path)` against `currentDirectory`.
    func resolve(_ path: String) -> String {
        BotmuxPath.normalize(path.hasPrefix("/") ? path : BotmuxPath.join(currentDirectory, path))
    }
}

/// How the data directory was chosen, for the report.
public enum BotmuxDataDirectorySource: String, Sendable, Hashable {
    /// Named on the command line (`--botmux DIR`).
    case argument
    /// `$SESSION_DATA_DIR`.
    case environment = "SESSION_DATA_DIR"
    /// The daemon's breadcrumb, `~/.botmux/.data-dir`.
    case breadcrumb
    /// The default, `~/.botmux/data`.
    case fallback = "default"
}

/// A botmux data directory and how it was found.
public struct BotmuxDataDirectory: Sendable, Hashable {
    /// The absolute, normalised path.
    public var path: String
    /// Which rule chose it.
    public var source: BotmuxDataDirectorySource

    /// Creates a value.
    public init(path: String, source: BotmuxDataDirectorySource) {
        self.path = path
        self.source = source
    }

    /// The breadcrumb's size limit, as botmux checks it.
    public static let breadcrumbLimit = 4096

    /// Finds the data directory with botmux's precedence.
    /// - Parameters:
    ///   - explicit: a directory named by the caller; it wins (made absolute).
    ///   - environment: the variables and working directory to use.
    /// - Returns: the directory (which may not exist: the caller checks).
    public static func locate(explicit: String?, environment: BotmuxEnvironment) -> BotmuxDataDirectory {
        if let explicit {
            return BotmuxDataDirectory(path: environment.resolve(explicit), source: .argument)
        }
        if let value = environment.variables["SESSION_DATA_DIR"] {
            let trimmed = BotmuxPath.trimJavaScriptWhitespace(value)
            if !trimmed.isEmpty {
                return BotmuxDataDirectory(path: environment.resolve(trimmed), source: .environment)
            }
        }
        let config = environment.configDirectory
        if let target = readBreadcrumb(BotmuxPath.join(config, ".data-dir")) {
            return BotmuxDataDirectory(path: BotmuxPath.normalize(target), source: .breadcrumb)
        }
        return BotmuxDataDirectory(path: BotmuxPath.join(config, "data"), source: .fallback)
    }

    /// The directory named by the breadcrumb file, if the file passes
    /// botmux's checks; nil for a missing, oversized, linked, unreadable or
    /// malformed breadcrumb (botmux then falls back to the default too).
    static func readBreadcrumb(_ path: String) -> String? {
        guard case .regularFile(let size) = BotmuxSystem.kind(of: path, followLinks: false),
              size <= breadcrumbLimit,
              let bytes = try? StoreFile(path: path).readBytes() else { return nil }
        let text = BotmuxPath.trimJavaScriptWhitespace(String(decoding: bytes, as: UTF8.self))
        guard !text.isEmpty, text.hasPrefix("/"),
              BotmuxSystem.kind(of: text, followLinks: true) == .directory else { return nil }
        return text
    }
}

/// Where the bots' configuration is.
public struct BotmuxBotsLocation: Sendable, Hashable {
    /// The file.
    public var path: String
    /// True when `$BOTS_CONFIG` named it (then it must exist).
    public var isExplicit: Bool

    /// `$BOTS_CONFIG` (trimmed, made absolute) or `~/.botmux/bots.json`.
    public static func locate(environment: BotmuxEnvironment) -> BotmuxBotsLocation {
        if let value = environment.variables["BOTS_CONFIG"] {
            let trimmed = BotmuxPath.trimJavaScriptWhitespace(value)
            if !trimmed.isEmpty { return BotmuxBotsLocation(path: environment.resolve(trimmed), isExplicit: true) }
        }
        return BotmuxBotsLocation(path: BotmuxPath.join(environment.configDirectory, "bots.json"), isExplicit: false)
    }
}

/// Path text helpers with Node's `path` semantics on POSIX.
enum BotmuxPath {
    /// `path.join(a, b)` for a relative `b` without `..`: one slash between.
    static func join(_ base: String, _ name: String) -> String {
        if base.isEmpty { return name }
        return base.hasSuffix("/") ? base + name : base + "/" + name
    }

    /// `path.normalize` of an absolute path: no empty or `.` components,
    /// `..` taken back (never above `/`), no trailing slash.
    static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// JavaScript's `String.prototype.trim`: white space and line terminators
    /// as ECMAScript defines them, at both ends.
    static func trimJavaScriptWhitespace(_ text: String) -> String {
        func isSpace(_ scalar: Unicode.Scalar) -> Bool {
            switch scalar.value {
            case 0x09...0x0D, 0x20, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF:
                return true
            default:
                return false
            }
        }
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isSpace($0) }),
              let last = scalars.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(scalars[first...last])
    }
}
