// The store file's bytes without Vigil's own parser, for readers of other
// formats (the botmux reader in VigilBotmux parses them its own way) that
// still want this module's file handling: one open, no FIFO hang, regular
// files only, errors as `StoreError` with the right category.

extension StoreFile {
    /// Reads the whole file at `path` into one buffer.
    ///
    /// - Returns: the bytes as they are on disk.
    /// - Throws: `.notFound` when there is no such file; `.cannotWrite` when
    ///   it cannot be opened or read, or is not a regular file (a folder, a
    ///   FIFO).
    public func readBytes() throws(StoreError) -> [UInt8] {
        switch readDocument() {
        case .success(let (bytes, _)): return bytes
        case .failure(let error): throw error
        }
    }
}
