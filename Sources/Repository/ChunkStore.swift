import Foundation

/// The content-addressed store of a repository: `chunks/<first two hex digits>/<name>`.
///
/// A chunk that exists is never written again (that is the deduplication), and two data
/// movers writing the same new chunk at once both succeed: each writes its own temporary
/// file and the renames replace one whole file with an identical whole file. In a plain
/// repository a chunk's name is the block's SHA-256; in an encrypted one it is a keyed
/// HMAC, and the payload is sealed with AES-256-GCM.
public struct ChunkStore: Sendable {
    public let directory: String
    /// zstd level for new chunks (1–19). Defaults to 3.
    public let compressionLevel: Int32
    /// Whether the repository is encrypted, and the key when one was given.
    let encrypted: Bool
    let key: RepositoryKey?

    init(directory: String, compressionLevel: Int32, encrypted: Bool, key: RepositoryKey?) {
        self.directory = directory
        self.compressionLevel = compressionLevel
        self.encrypted = encrypted
        self.key = key
    }

    /// The key, when the repository is encrypted; nil for a plain one.
    private func sealingKey() throws(RepositoryError) -> RepositoryKey? {
        guard encrypted else { return nil }
        guard let key else {
            throw RepositoryError(.keyRequired, "the repository is encrypted: give its key file (--key-file)")
        }
        return key
    }

    /// The name a block is stored under.
    public func name(_ block: UnsafeRawBufferPointer) throws(RepositoryError) -> ChunkID {
        try sealingKey()?.name(block) ?? ChunkID(hashing: block)
    }

    /// What storing one block did.
    public struct Write: Sendable, Equatable {
        /// nil for an all-zero block, which is not stored.
        public let chunk: ChunkID?
        /// Bytes written to the repository: 0 for a zero block or a chunk that existed.
        public let storedBytes: Int

        public init(chunk: ChunkID?, storedBytes: Int) {
            self.chunk = chunk
            self.storedBytes = storedBytes
        }
    }

    public func path(of id: ChunkID) -> String {
        let hex = id.hex
        return "\(directory)/\(hex.prefix(2))/\(hex)"
    }

    /// A block made ready for the repository: hashed, and encoded if it is not stored yet.
    /// Preparing is the CPU work (hash, compress); committing is the write, so a data mover
    /// can time them apart and throttle what goes between them.
    public struct PreparedBlock: Sendable {
        /// nil for an all-zero block.
        public let chunk: ChunkID?
        /// The chunk file to write (as a repository keeps it); nil when there is nothing to write.
        public let file: [UInt8]?
        /// Bytes a commit will write: 0 for a zero block or a chunk already stored.
        public var bytesToWrite: Int { file?.count ?? 0 }

        /// An all-zero block: not stored.
        public static let zero = PreparedBlock(chunk: nil, file: nil)
    }

    public func prepare(_ block: UnsafeRawBufferPointer) throws(RepositoryError) -> PreparedBlock {
        guard let id = try identify(block) else { return PreparedBlock(chunk: nil, file: nil) }
        // An existing chunk is trusted only if it passes the cheap check; a torn, truncated or
        // quarantined one is written again from this block (atomically, over the bad file).
        if soundness(of: id, blockLength: block.count) == .sound { return PreparedBlock(chunk: id, file: nil) }
        return try encode(block, as: id)
    }

    /// The first CPU step of `prepare`: the block's name, nil for an all-zero block. A data
    /// mover runs it on the cooperative pool, then the soundness check (a file open and
    /// read) on its I/O threads, then `encode` if the chunk is not stored soundly.
    public func identify(_ block: UnsafeRawBufferPointer) throws(RepositoryError) -> ChunkID? {
        if Self.isAllZero(block) { return nil }
        return try sealingKey()?.name(block) ?? ChunkID(hashing: block)
    }

    /// A block whose chunk is stored soundly already: nothing to write.
    public func alreadyStored(_ id: ChunkID) -> PreparedBlock {
        PreparedBlock(chunk: id, file: nil)
    }

    /// The second CPU step of `prepare`: compressed (unless that does not pay) and sealed in
    /// an encrypted repository, ready for `commit`.
    public func encode(_ block: UnsafeRawBufferPointer, as id: ChunkID) throws(RepositoryError) -> PreparedBlock {
        let key = try sealingKey()
        let (compressed, payload) = ChunkFile.compressOrStore(block, level: compressionLevel)
        let encoding = ChunkFile.Encoding(compressed: compressed, sealed: key != nil)
        let context = ChunkFile.authenticatedData(id: id, encoding: encoding, size: block.count)
        let file = ChunkFile.assemble(encoding, size: block.count, payload: try key?.seal(payload, context: context) ?? payload)
        return PreparedBlock(chunk: id, file: file)
    }

    public func commit(_ prepared: PreparedBlock) throws(RepositoryError) -> Write {
        guard let id = prepared.chunk, let file = prepared.file else {
            return Write(chunk: prepared.chunk, storedBytes: 0)
        }
        let path = path(of: id)
        try DurableFile.makeDirectory((path as NSString).deletingLastPathComponent)
        // Whole once renamed, durable at the next `BackupRepository.makeChunksDurable()`:
        // one flush per manifest instead of two per chunk.
        try DurableFile.write(file, to: path, flushed: false)
        return Write(chunk: id, storedBytes: file.count)
    }

    /// Hashes the block and stores it unless it is all zeros or already stored.
    public func store(_ block: UnsafeRawBufferPointer) throws(RepositoryError) -> Write {
        try commit(prepare(block))
    }

    /// The block a chunk holds, checked against its name.
    public func load(_ id: ChunkID) throws(RepositoryError) -> [UInt8] {
        switch read(id) {
        case .success(let block): return block
        case .failure(.missing):
            throw RepositoryError(.missingChunk, "chunk \(id) is missing from \(directory)")
        case .failure(.keyRequired):
            throw RepositoryError(.keyRequired, "chunk \(id) is encrypted: give the repository's key file (--key-file)")
        case .failure(let problem):
            throw RepositoryError(.corruptChunk, "chunk \(id) is \(problem)")
        }
    }

    /// Reads and re-hashes a chunk.
    public func read(_ id: ChunkID) -> Result<[UInt8], ChunkProblem> {
        let file: [UInt8]?
        do {
            file = try DurableFile.read(path(of: id))
        } catch {
            return .failure(.damaged(error.message))
        }
        guard let file else { return .failure(.missing) }
        return check(file, as: id)
    }

    /// The block a chunk file holds, when the file is whole and the block's name is `id`: how
    /// a chunk read from disk is checked, and how a repository service checks a chunk a client
    /// sends before it keeps it.
    public func check(_ file: [UInt8], as id: ChunkID) -> Result<[UInt8], ChunkProblem> {
        let parsed: (encoding: ChunkFile.Encoding, size: Int, payload: ArraySlice<UInt8>)
        switch ChunkFile.parse(file) {
        case .failure(let problem): return .failure(problem)
        case .success(let fields): parsed = fields
        }
        var payload = parsed.payload
        if parsed.encoding.isSealed {
            guard let key else { return .failure(.keyRequired) }
            let context = ChunkFile.authenticatedData(id: id, encoding: parsed.encoding, size: parsed.size)
            guard let opened = key.open(payload, context: context) else { return .failure(.cannotDecrypt) }
            payload = opened[...]
        } else if encrypted {
            return .failure(.damaged("it is not sealed, in an encrypted repository"))
        }
        switch ChunkFile.expand(payload, compressed: parsed.encoding.isCompressed, size: parsed.size) {
        case .failure(let problem): return .failure(problem)
        case .success(let block):
            let name = block.withUnsafeBytes { bytes in key.map { $0.name(bytes) } ?? ChunkID(hashing: bytes) }
            return name == id ? .success(block) : .failure(.hashMismatch)
        }
    }

    static func isAllZero(_ block: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        let count = block.count
        while index + 8 <= count {
            if block.loadUnaligned(fromByteOffset: index, as: UInt64.self) != 0 { return false }
            index += 8
        }
        while index < count {
            if block[index] != 0 { return false }
            index += 1
        }
        return true
    }
}
