import Foundation

/// Backs up one raw disk image into a repository: read each block, skip zeros, hash, store new
/// chunks, then write the manifest — last, so a restore point never names a chunk that is not
/// durably stored.
///
/// This first data mover reads sequentially on the calling thread; the pipelined mover with
/// changed-block tracking, progress checkpoints and throttling builds on the same steps.
public enum DiskImageBackup {
    public struct Result: Sendable, Equatable {
        public let manifest: DiskManifest
        public let zeroBlocks: Int
        /// Chunks this backup wrote (the rest existed: deduplicated).
        public let newChunks: Int
        public let bytesRead: Int64
        public let bytesStored: Int64
    }

    @discardableResult
    public static func backup(
        image path: String, to repository: BackupRepository, restorePoint: String, disk: String,
        blockSize: BlockSize = .default
    ) throws(RepositoryError) -> Result {
        try DiskManifest.checkName(restorePoint, what: "restore point id")
        try DiskManifest.checkName(disk, what: "disk name")
        try repository.checkWritable()
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw RepositoryError(.invalidInput, "cannot open the disk image \(path): \(errnoText())")
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw RepositoryError(.invalidInput, "the disk image \(path) is not a regular file")
        }
        let diskSize = Int64(info.st_size)
        let count = DiskManifest.blockCount(diskSize: diskSize, blockSize: blockSize)
        var blocks: [ChunkID?] = []
        blocks.reserveCapacity(count)
        var buffer = [UInt8](repeating: 0, count: blockSize.bytes)
        var zeroBlocks = 0
        var newChunks = 0
        var bytesRead: Int64 = 0
        var bytesStored: Int64 = 0
        for index in 0..<count {
            let offset = Int64(index) * Int64(blockSize.bytes)
            let length = Int(min(Int64(blockSize.bytes), diskSize - offset))
            try readFully(descriptor, into: &buffer, length: length, at: offset, path: path)
            let write = try buffer.withUnsafeBytes { bytes in
                Swift.Result { () throws(RepositoryError) in
                    try repository.chunks.store(UnsafeRawBufferPointer(rebasing: bytes[0..<length]))
                }
            }.get()
            blocks.append(write.chunk)
            bytesRead += Int64(length)
            if write.chunk == nil { zeroBlocks += 1 }
            if write.storedBytes > 0 {
                newChunks += 1
                bytesStored += Int64(write.storedBytes)
            }
        }
        let manifest = try DiskManifest(
            restorePoint: restorePoint, disk: disk, diskSize: diskSize, blockSize: blockSize, blocks: blocks)
        try repository.save(manifest)
        return Result(
            manifest: manifest, zeroBlocks: zeroBlocks, newChunks: newChunks, bytesRead: bytesRead,
            bytesStored: bytesStored)
    }

    private static func readFully(
        _ descriptor: Int32, into buffer: inout [UInt8], length: Int, at offset: Int64, path: String
    ) throws(RepositoryError) {
        var done = 0
        while done < length {
            let result = buffer.withUnsafeMutableBytes { bytes in
                pread(descriptor, bytes.baseAddress! + done, length - done, off_t(offset) + off_t(done))
            }
            if result < 0 {
                if errno == EINTR { continue }
                throw RepositoryError(.io, "reading \(path) at offset \(offset + Int64(done)) failed: \(errnoText()); nothing of this restore point was recorded")
            }
            if result == 0 {
                throw RepositoryError(
                    .io, "the disk image \(path) ended at offset \(offset + Int64(done)) while it was being read (it shrank or vanished); nothing of this restore point was recorded")
            }
            done += result
        }
    }
}
