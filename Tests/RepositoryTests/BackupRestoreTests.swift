import Foundation
import Repository
import Testing

@Suite("Backups into a repository restore byte for byte")
struct BackupRestoreTests {
    /// The 8 MiB image is, per MiB: zeros, text, random A, A again, zeros, text, random B, A
    /// again, then a 12,345-byte random tail. Distinct non-zero blocks per block size: text
    /// (4 different 256 KiB blocks, 1 at 1 MiB), A and B, the tail; at 4 MiB every block mixes.
    @Test(
        "a full backup restores identical; zeros are not stored and repeated blocks are stored once",
        arguments: [
            ("256K", 13, 8), ("1M", 4, 2), ("4M", 3, 0),
        ])
    func fullBackup(blockSizeText: String, distinctChunks: Int, zeroBlocks: Int) async throws {
        let folder = try ImageMaker.scratchFolder("full")
        defer { try? FileManager.default.removeItem(at: folder) }
        let image = folder.appendingPathComponent("disk.img")
        try ImageMaker.image(at: image, megabytes: 8)
        let repository = try BackupRepository.create(at: folder.appendingPathComponent("repo"))
        let blockSize = try BlockSize(parsing: blockSizeText)

        let result = try await backup(image, to: repository, restorePoint: "rp-1", disk: "scsi0-0", blockSize: blockSize)
        #expect(result.progress.bytesRead == Int64(8 << 20) + 12_345)
        #expect(result.zeroBlocks == zeroBlocks)
        #expect(result.progress.newChunks == distinctChunks)
        // Random data does not compress: about 2-3 MiB of it, whatever the block size.
        #expect(result.progress.bytesTransferred > 2 << 20)
        #expect(result.progress.bytesTransferred < 7 << 19)

        let restored = folder.appendingPathComponent("restored.img")
        let manifest = try repository.manifest(restorePoint: "rp-1", disk: "scsi0-0")
        let restore = try DiskRestore.restore(manifest, from: repository, to: restored.path, overwrite: false)
        #expect(restore.blocksChecked == manifest.blocks.count)
        #expect(try ImageMaker.sha256(of: restored) == ImageMaker.sha256(of: image))
        #expect(try RepositoryVerifier(repository: repository).verify().isClean)
    }

    @Test("an incremental writes only the changed blocks, and each restore point restores on its own")
    func incremental() async throws {
        let folder = try ImageMaker.scratchFolder("incremental")
        defer { try? FileManager.default.removeItem(at: folder) }
        let image = folder.appendingPathComponent("disk.img")
        try ImageMaker.image(at: image, megabytes: 8)
        let firstCopy = folder.appendingPathComponent("first.img")
        try FileManager.default.copyItem(at: image, to: firstCopy)
        let repository = try BackupRepository.create(at: folder.appendingPathComponent("repo"))
        try await backup(image, to: repository, restorePoint: "rp-1", disk: "d0")

        try ImageMaker.mutate(image, at: [100, 5 << 20 + 7])
        let second = try await backup(image, to: repository, restorePoint: "rp-2", disk: "d0")
        #expect(second.progress.newChunks == 2)
        #expect(second.progress.bytesTransferred < 2 << 20)

        for (restorePoint, original) in [("rp-1", firstCopy), ("rp-2", image)] {
            let target = folder.appendingPathComponent("\(restorePoint).img")
            let manifest = try repository.manifest(restorePoint: restorePoint, disk: "d0")
            try DiskRestore.restore(manifest, from: repository, to: target.path, overwrite: false)
            #expect(try ImageMaker.sha256(of: target) == ImageMaker.sha256(of: original), "\(restorePoint)")
        }
        #expect(try repository.restorePoints() == ["rp-1", "rp-2"])
    }

    @Test("two writers storing the same new chunk at once both succeed and leave one good chunk")
    func concurrentSameChunk() async throws {
        let folder = try ImageMaker.scratchFolder("race")
        defer { try? FileManager.default.removeItem(at: folder) }
        let repository = try BackupRepository.create(at: folder.appendingPathComponent("repo"))
        let block = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        let writes = try await withThrowingTaskGroup(of: ChunkStore.Write.self) { group in
            for _ in 0..<8 {
                group.addTask { try block.withUnsafeBytes { try repository.chunks.store($0) } }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let ids = Set(writes.compactMap(\.chunk))
        #expect(ids.count == 1)
        let id = try #require(ids.first)
        #expect(try repository.chunks.load(id) == block)
        let leftovers = try FileManager.default.contentsOfDirectory(
            atPath: (repository.chunks.path(of: id) as NSString).deletingLastPathComponent)
        #expect(leftovers == [id.hex])
    }
}
