import DataMover
import Foundation
import Infrastructure
import Repository
import Testing

@Suite("The data mover: changed blocks, checkpoints and resume, throttling")
struct DiskTransferTests {
    @Test("with changed-block information only changed blocks are read, and the restore point is the same")
    func changedBlockTracking() async throws {
        let folder = try ImageMaker.scratchFolder("cbt")
        defer { try? FileManager.default.removeItem(at: folder) }
        let image = folder.appendingPathComponent("disk.img")
        try ImageMaker.image(at: image, megabytes: 8)
        let repository = try BackupRepository.create(at: folder.appendingPathComponent("repo"))
        let base = try await backup(image, to: repository, restorePoint: "rp-1", disk: "d0").manifest
        try ImageMaker.mutate(image, at: [10, 5 << 20 + 99])

        var transfer = DiskTransfer(
            repository: repository, restorePoint: "rp-2", disk: "d0", source: try ImageFileSource(path: image.path))
        transfer.changedBlocks = (base, [0, 5])
        let tracked = try await transfer.run()
        #expect(tracked.progress.bytesRead == 2 << 20)
        #expect(tracked.unchangedBlocks == base.blocks.count - 2)
        let fullRead = try await backup(image, to: repository, restorePoint: "rp-3", disk: "d0")
        #expect(tracked.manifest.blocks == fullRead.manifest.blocks)
        let restored = folder.appendingPathComponent("rp-2.img")
        try DiskRestore.restore(tracked.manifest, from: repository, to: restored.path, overwrite: false)
        #expect(try ImageMaker.sha256(of: restored) == ImageMaker.sha256(of: image))
    }

    @Test("a transfer stopped after a checkpoint resumes there and ends with the uninterrupted restore point")
    func resumeFromCheckpoint() async throws {
        let (folder, image, repository) = try imageAndRepository("resume", megabytes: 16)
        defer { try? FileManager.default.removeItem(at: folder) }
        let transfer = try smallStepTransfer(image, to: repository, checkpointBytes: 1 << 20)
        let checkpoints = Counter()
        await #expect(throws: StopTransfer.self) {
            try await transfer.run { _ in
                if checkpoints.increment() == 3 { throw StopTransfer() }
            }
        }
        let saved = try #require(try repository.progress(restorePoint: "rp-1", disk: "d0"))
        #expect(saved.blocks.count >= 8)
        #expect(saved.blocks.count < 64)
        #expect(try repository.restorePoints().isEmpty)

        let resumed = try await transfer.run()
        #expect(resumed.resumedBlocks == saved.blocks.count)
        #expect(try repository.progress(restorePoint: "rp-1", disk: "d0") == nil)
        let restored = folder.appendingPathComponent("rp-1.img")
        try DiskRestore.restore(resumed.manifest, from: repository, to: restored.path, overwrite: false)
        #expect(try ImageMaker.sha256(of: restored) == ImageMaker.sha256(of: image))
        let referenceAt256K = try await backup(
            image, to: repository, restorePoint: "reference-256k", disk: "d0", blockSize: try BlockSize(parsing: "256K"))
        #expect(resumed.manifest.blocks == referenceAt256K.manifest.blocks)
    }

    @Test("a resume against a disk of another size is refused")
    func resumeAgainstOtherDisk() async throws {
        let folder = try ImageMaker.scratchFolder("resume-other")
        defer { try? FileManager.default.removeItem(at: folder) }
        let image = folder.appendingPathComponent("disk.img")
        try ImageMaker.image(at: image, megabytes: 4, tail: 0)
        let repository = try BackupRepository.create(at: folder.appendingPathComponent("repo"))
        var progress = DiskProgress(
            restorePoint: "rp-1", disk: "d0", diskSize: 99 << 20, blockSize: .default,
            source: try ImageFileSource(path: image.path).identity)
        progress.blocks = [nil]
        try repository.saveProgress(progress)
        let error = await #expect(throws: RepositoryError.self) {
            try await backup(image, to: repository, restorePoint: "rp-1", disk: "d0")
        }
        #expect(error?.message.contains("same snapshot") == true)
    }

    @Test("a throttled transfer waits for the token bucket; the wait is counted as network time")
    func throttled() async throws {
        let folder = try ImageMaker.scratchFolder("throttle")
        defer { try? FileManager.default.removeItem(at: folder) }
        let image = folder.appendingPathComponent("disk.img")
        try ImageMaker.image(at: image, megabytes: 4, tail: 0)
        let repository = try BackupRepository.create(at: folder.appendingPathComponent("repo"))
        var transfer = DiskTransfer(
            repository: repository, restorePoint: "rp-1", disk: "d0", source: try ImageFileSource(path: image.path))
        let bucket = TokenBucket(bytesPerSecond: 1e6)
        transfer.throttle = bucket
        bucket.setRate(bytesPerSecond: 4e6)
        #expect(bucket.bytesPerSecond == 4e6)
        let outcome = try await transfer.run()
        #expect(outcome.stageTimes.network > 0)
        let unthrottled = try await backup(image, to: repository, restorePoint: "rp-2", disk: "d0")
        #expect(unthrottled.stageTimes.network == 0)
        #expect(unthrottled.manifest.blocks == outcome.manifest.blocks)
    }

    @Test("a disk that shrinks while it is read fails the transfer and records no restore point")
    func shrinkingSource() async throws {
        let folder = try ImageMaker.scratchFolder("shrink")
        defer { try? FileManager.default.removeItem(at: folder) }
        let image = folder.appendingPathComponent("disk.img")
        try ImageMaker.image(at: image, megabytes: 4, tail: 0)
        let repository = try BackupRepository.create(at: folder.appendingPathComponent("repo"))
        let source = try ImageFileSource(path: image.path)
        #expect(truncate(image.path, 1 << 20) == 0)
        let transfer = DiskTransfer(repository: repository, restorePoint: "rp-1", disk: "d0", source: source)
        let error = await #expect(throws: InfrastructureError.self) { try await transfer.run() }
        #expect(error?.code == .diskUnreadable)
        #expect(error?.message.contains("shrank or vanished") == true)
        #expect(try repository.restorePoints().isEmpty)
    }
}

/// A thread-safe counter for checkpoint callbacks.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func increment() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value
    }
}
