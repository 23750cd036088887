// The store's one error type. The CLI prints `Error: \(error)` and exits with
// `error.exitCode`, so `description` is one line that names the file and what
// is wrong, and the category is the stable part a caller may branch on.

import VigilJSON
import VigilSystem

/// Why a store operation failed: a stable category (mapped to a sysexits
/// code), the path concerned, a one-line message and, for system failures,
/// the underlying errno.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The stable classification of a `StoreError`.
    public enum Category: String, Sendable, Hashable {
        /// The store does not exist (and the caller did not ask to create it).
        /// sysexits `EX_NOINPUT`, 66.
        case notFound
        /// The store exists but is not a document Vigil understands: bad JSON,
        /// an unknown version, a malformed record. The file was left untouched.
        /// sysexits `EX_DATAERR`, 65.
        case invalidData
        /// The store or its folder could not be read or written (permission,
        /// read-only file system, disk full, not a regular file).
        /// sysexits `EX_CANTCREAT`, 73.
        case cannotWrite
        /// Another writer holds the store's lock, or the file changed under us.
        /// Nothing was written; retrying later may succeed. sysexits
        /// `EX_TEMPFAIL`, 75.
        case locked
    }

    /// The stable classification.
    public let category: Category
    /// The path the error is about (the store, its lock file or its folder).
    public let path: String
    /// What went wrong, without the path (the description adds it).
    public let message: String
    /// The `errno` of the failing system call, if one failed.
    public let underlyingErrno: Int32?

    /// Creates an error.
    /// - Parameters:
    ///   - category: the stable classification.
    ///   - path: the file the error is about.
    ///   - message: what is wrong, one line, without the path.
    ///   - underlyingErrno: the errno of a failed system call, if any.
    public init(_ category: Category, path: String, message: String, underlyingErrno: Int32? = nil) {
        self.category = category
        self.path = path
        self.message = message
        self.underlyingErrno = underlyingErrno
    }

    /// The sysexits code for the category: 66, 65, 73 or 75.
    public var exitCode: Int32 {
        switch category {
        case .notFound: 66
        case .invalidData: 65
        case .cannotWrite: 73
        case .locked: 75
        }
    }

    /// One line for `Error: <description>`, e.g.
    /// `store /home/u/.chatd/sessions.json: line 3, column 14: expected ',' or '}'`.
    public var description: String { "store \(path): \(message)" }
}

extension StoreError {
    /// An error for a failed system call: ENOENT becomes `.notFound`, anything
    /// else `.cannotWrite` (which also covers "cannot read").
    static func fromErrno(_ error: Errno, path: String, doing what: String) -> StoreError {
        let category: Category = error == .noSuchFile ? .notFound : .cannotWrite
        return StoreError(category, path: path, message: "\(what): \(error.message)", underlyingErrno: error.rawValue)
    }
}
