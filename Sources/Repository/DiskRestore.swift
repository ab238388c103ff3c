import Foundation
import Synchronization

/// Writes a disk back from its manifest, re-hashing every block on the way.
///
/// The disk is written to a temporary file beside the destination and renamed over it only
/// when every block checked out, so a failed restore never leaves a file that looks whole.
public enum DiskRestore {
    public struct Result: Sendable, Equatable {
        public let bytesWritten: Int64
        public let blocksChecked: Int
    }

    /// Restores into `path`. An existing file is replaced only with `overwrite`. A path
    /// inside a repository (this one, any other with a marker above it, or one of
    /// `knownRepositories`) is refused before anything is written (`RestoreTarget`).
    @discardableResult
    public static func restore(
        _ manifest: DiskManifest, from repository: any RepositoryStore, to path: String, overwrite: Bool,
        knownRepositories: [String] = []
    ) throws(RepositoryError) -> Result {
        let ownFolder = (repository as? BackupRepository).map { [$0.root.path] } ?? []
        try RestoreTarget.checkOutside(path, knownRepositories: knownRepositories + ownFolder)
        let hold = try repository.readHold(wait: false)
        defer { hold.release() }
        var existing = stat()
        if lstat(path, &existing) == 0 {
            guard (existing.st_mode & S_IFMT) == S_IFREG else {
                throw RepositoryError(
                    .invalidInput,
                    "\(path) is not a regular file (a device, link or folder): restore writes disk images as files; give a file path")
            }
            if !overwrite {
                throw RepositoryError(.destinationExists, "\(path) exists: choose another destination, or pass --force to replace it")
            }
        }
        let directory = (path as NSString).deletingLastPathComponent
        let folder = directory.isEmpty ? "." : directory
        let temporary = folder + "/.tidemark-restore-" + UUID().uuidString
        // Owner-only: a disk restored from an encrypted repository is plaintext now.
        let descriptor = open(temporary, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw RepositoryError(.io, "cannot create a file in \(directory.isEmpty ? "." : directory): \(errnoText())")
        }
        var closed = false
        defer {
            if !closed {
                close(descriptor)
                unlink(temporary)
            }
        }
        guard ftruncate(descriptor, off_t(manifest.diskSize)) == 0 else {
            throw RepositoryError(.io, "cannot size \(temporary) to \(manifest.diskSize) bytes: \(errnoText())")
        }
        // Zero blocks are skipped: the file is sparse there.
        let written = try forEachStoredBlock(of: manifest, from: repository) { index, block throws(RepositoryError) in
            let offset = Int64(index) * Int64(manifest.blockSize.bytes)
            var done = 0
            while done < block.count {
                let result = block.withUnsafeBytes { bytes in
                    pwrite(descriptor, bytes.baseAddress! + done, block.count - done, off_t(offset) + off_t(done))
                }
                if result < 0 {
                    if errno == EINTR { continue }
                    throw RepositoryError(.io, "writing \(temporary) at offset \(offset) failed: \(errnoText())")
                }
                done += result
            }
        }
        guard fsync(descriptor) == 0 else { throw RepositoryError(.io, "cannot flush \(temporary): \(errnoText())") }
        close(descriptor)
        closed = true
        guard rename(temporary, path) == 0 else {
            let error = RepositoryError(.io, "cannot move the restored disk to \(path): \(errnoText())")
            unlink(temporary)
            throw error
        }
        try DurableFile.syncDirectory(folder)
        return Result(bytesWritten: written, blocksChecked: manifest.blocks.count)
    }

    /// Reads and re-hashes every block of a manifest without writing anything.
    @discardableResult
    public static func verifyOnly(
        _ manifest: DiskManifest, from repository: any RepositoryStore
    ) throws(RepositoryError)
        -> Result
    {
        let hold = try repository.readHold(wait: false)
        defer { hold.release() }
        try forEachStoredBlock(of: manifest, from: repository) { _, _ throws(RepositoryError) in }
        return Result(bytesWritten: 0, blocksChecked: manifest.blocks.count)
    }

    /// Loads (reads, decrypts, decompresses, re-hashes) every stored block, on all cores at
    /// once (Dispatch's threads, not Swift's cooperative pool, since file reads block), and
    /// hands each to `body`, which may run concurrently. The first failure stops the rest and
    /// is thrown. Returns the bytes handed over.
    @discardableResult
    private static func forEachStoredBlock(
        of manifest: DiskManifest, from repository: any RepositoryStore,
        _ body: @Sendable (Int, [UInt8]) throws(RepositoryError) -> Void
    ) throws(RepositoryError) -> Int64 {
        let stored = manifest.blocks.enumerated().compactMap { index, chunk in chunk.map { (index, $0) } }
        let state = Mutex<(failure: RepositoryError?, bytes: Int64)>((nil, 0))
        DispatchQueue.concurrentPerform(iterations: stored.count) { position in
            guard state.withLock({ $0.failure == nil }) else { return }
            let (index, chunk) = stored[position]
            do throws(RepositoryError) {
                let block = try load(chunk, of: manifest, index: index, from: repository)
                try body(index, block)
                state.withLock { $0.bytes += Int64(block.count) }
            } catch {
                state.withLock { if $0.failure == nil { $0.failure = error } }
            }
        }
        return try state.withLock { state throws(RepositoryError) in
            if let failure = state.failure { throw failure }
            return state.bytes
        }
    }

    /// Block `index` of a manifest, loaded and checked (nil for a zero block); a missing or
    /// corrupt chunk is an error naming the restore point, disk and offset.
    public static func block(
        _ index: Int, of manifest: DiskManifest, from repository: any RepositoryStore
    ) throws(RepositoryError)
        -> [UInt8]?
    {
        guard let chunk = manifest.blocks[index] else { return nil }
        return try load(chunk, of: manifest, index: index, from: repository)
    }

    private static func load(
        _ chunk: ChunkID, of manifest: DiskManifest, index: Int, from repository: any RepositoryStore
    )
        throws(RepositoryError) -> [UInt8]
    {
        let offset = Int64(index) * Int64(manifest.blockSize.bytes)
        let block: [UInt8]
        do {
            block = try repository.loadChunk(chunk)
        } catch {
            throw RepositoryError(
                error.code,
                "restore point \(manifest.restorePoint), disk \(manifest.disk), offset \(offset): \(error.message)")
        }
        guard block.count == manifest.length(ofBlock: index) else {
            throw RepositoryError(
                .corruptChunk,
                "restore point \(manifest.restorePoint), disk \(manifest.disk), offset \(offset): chunk \(chunk) holds \(block.count) bytes, the block has \(manifest.length(ofBlock: index))"
            )
        }
        return block
    }
}
