import DataMover
import Foundation
import Infrastructure
import Repository
import Testing

@Suite("Retention and garbage collection")
struct RetentionAndGCTests {
    /// Five restore points of an image that changes a little between them.
    static func fiveRestorePoints(_ name: String) async throws -> (URL, URL, BackupRepository) {
        let folder = try ImageMaker.scratchFolder(name)
        let image = folder.appendingPathComponent("disk.img")
        try ImageMaker.image(at: image, megabytes: 4, tail: 0)
        let repository = try BackupRepository.create(at: folder.appendingPathComponent("repo"))
        for number in 1...5 {
            try ImageMaker.mutate(image, at: [number * 300_000])
            try await backup(image, to: repository, restorePoint: "rp-\(number)", disk: "d0")
        }
        return (folder, image, repository)
    }

    static func chunks(of restorePoints: [String], in repository: BackupRepository) throws -> Set<ChunkID> {
        var chunks = Set<ChunkID>()
        for id in restorePoints {
            for case let chunk? in try repository.manifest(restorePoint: id, disk: "d0").blocks { chunks.insert(chunk) }
        }
        return chunks
    }

    @Test("keeping the newest three deletes the two oldest; collection frees exactly the chunks only they used")
    func retentionThenCollection() async throws {
        let (folder, image, repository) = try await Self.fiveRestorePoints("retention")
        defer { try? FileManager.default.removeItem(at: folder) }
        let kept = try Self.chunks(of: ["rp-3", "rp-4", "rp-5"], in: repository)
        let all = try Self.chunks(of: ["rp-1", "rp-2", "rp-3", "rp-4", "rp-5"], in: repository)

        #expect(try repository.applyRetention(.restorePoints(3)) == ["rp-1", "rp-2"])
        #expect(try repository.restorePoints() == ["rp-3", "rp-4", "rp-5"])
        let report = try GarbageCollector(repository: repository).collect()
        #expect(report.deletedChunks == all.subtracting(kept).count)
        #expect(report.deletedChunks > 0)
        #expect(report.referencedChunks == kept.count)
        #expect(try RepositoryVerifier(repository: repository).verify().isClean)
        let restored = folder.appendingPathComponent("rp-5.img")
        try DiskRestore.restore(
            try repository.manifest(restorePoint: "rp-5", disk: "d0"), from: repository, to: restored.path, overwrite: false)
        #expect(try ImageMaker.sha256(of: restored) == ImageMaker.sha256(of: image))
        #expect(try GarbageCollector(repository: repository).collect().deletedChunks == 0)
    }

    @Test(
        "a retention policy below the minimum is refused and deletes nothing",
        arguments: [
            RetentionPolicy.restorePoints(2), .restorePoints(0), .days(0),
        ])
    func belowMinimum(policy: RetentionPolicy) async throws {
        let (folder, _, repository) = try await Self.fiveRestorePoints("minimum")
        defer { try? FileManager.default.removeItem(at: folder) }
        let error = #expect(throws: RepositoryError.self) { try repository.applyRetention(policy) }
        #expect(error?.code == .invalidInput)
        #expect(try repository.restorePoints().count == 5)
    }

    @Test("retention by days keeps the young restore points")
    func retentionByDays() async throws {
        let (folder, _, repository) = try await Self.fiveRestorePoints("days")
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(try repository.applyRetention(.days(7)).isEmpty)
        let later = Date().addingTimeInterval(8 * 86_400)
        // The chain's newest restore point stays unless removing it is asked for explicitly.
        #expect(try repository.applyRetention(.days(7), now: later) == ["rp-1", "rp-2", "rp-3", "rp-4"])
        #expect(try repository.applyRetention(.days(7), removingLast: true, now: later) == ["rp-5"])
    }

    @Test("collection cannot run while a backup holds the repository, and the backup's chunks survive")
    func collectionVersusRunningBackup() async throws {
        let (folder, image, repository) = try await Self.fiveRestorePoints("race")
        defer { try? FileManager.default.removeItem(at: folder) }
        try repository.applyRetention(.restorePoints(3))
        try ImageMaker.mutate(image, at: [2_000_000, 3_500_000])

        var transfer = DiskTransfer(
            repository: repository, restorePoint: "rp-6", disk: "d0", source: try ImageFileSource(path: image.path),
            blockSize: try BlockSize(parsing: "256K"))
        transfer.checkpointBytes = 1 << 20
        transfer.parallelism = 2
        let gate = Gate()
        let running = Task { [transfer] in
            try await transfer.run { _ in await gate.arriveAndWait() }
        }
        await gate.waitForArrival()
        // The backup is mid-way: it has written new chunks and will reference old ones.
        let busy = #expect(throws: RepositoryError.self) { try GarbageCollector(repository: repository).collect() }
        #expect(busy?.code == .busy)
        let retentionBusy = #expect(throws: RepositoryError.self) { try repository.applyRetention(.restorePoints(3)) }
        #expect(retentionBusy?.code == .busy)
        await gate.open()
        let outcome = try await running.value

        try GarbageCollector(repository: repository).collect()
        #expect(try RepositoryVerifier(repository: repository).verify().isClean)
        let restored = folder.appendingPathComponent("rp-6.img")
        try DiskRestore.restore(outcome.manifest, from: repository, to: restored.path, overwrite: false)
        #expect(try ImageMaker.sha256(of: restored) == ImageMaker.sha256(of: image))
    }

    @Test("a hold its holder released lets retention run at once, though a reference to it remains")
    func releasedHoldLetsRetentionRun() throws {
        let (folder, _, repository) = try imageAndRepository("released", megabytes: 1)
        defer { try? FileManager.default.removeItem(at: folder) }
        let transfer = try repository.beginTransfer(fence: nil)
        let reader = try repository.readHold(wait: false)
        // Still referenced (as a thread pool's closure may keep it a moment): the lock holds.
        let busy = #expect(throws: RepositoryError.self) { try repository.applyRetention(.restorePoints(3)) }
        #expect(busy?.code == .busy)
        transfer.release()
        reader.release()
        reader.release()
        #expect(try repository.applyRetention(.restorePoints(3)).isEmpty)
        withExtendedLifetime((transfer, reader)) {}
    }

    @Test("collection keeps the chunks of an interrupted transfer, which then resumes intact")
    func collectionKeepsInterruptedTransfer() async throws {
        let (folder, image, repository) = try imageAndRepository("interrupted", megabytes: 8)
        defer { try? FileManager.default.removeItem(at: folder) }
        let transfer = try smallStepTransfer(image, to: repository, checkpointBytes: 2 << 20)
        await #expect(throws: StopTransfer.self) { try await transfer.run { _ in throw StopTransfer() } }
        let saved = try #require(try repository.progress(restorePoint: "rp-1", disk: "d0"))
        let report = try GarbageCollector(repository: repository).collect()
        #expect(report.referencedChunks == Set(saved.blocks.compactMap { $0 }).count)
        let resumed = try await transfer.run()
        #expect(resumed.resumedBlocks == saved.blocks.count)
        let restored = folder.appendingPathComponent("restored.img")
        try DiskRestore.restore(resumed.manifest, from: repository, to: restored.path, overwrite: false)
        #expect(try ImageMaker.sha256(of: restored) == ImageMaker.sha256(of: image))
    }

    @Test("a damaged manifest stops collection before anything is deleted")
    func damagedManifestStopsCollection() async throws {
        let (folder, _, repository) = try await Self.fiveRestorePoints("damaged")
        defer { try? FileManager.default.removeItem(at: folder) }
        try repository.applyRetention(.restorePoints(3))
        let path = folder.appendingPathComponent("repo/restore-points/rp-4/d0.json")
        try Data("{\"format".utf8).write(to: path)
        let before = try FileManager.default.subpathsOfDirectory(atPath: repository.chunks.directory).count
        let error = #expect(throws: RepositoryError.self) { try GarbageCollector(repository: repository).collect() }
        #expect(error?.message.contains("deleted nothing") == true)
        #expect(try FileManager.default.subpathsOfDirectory(atPath: repository.chunks.directory).count == before)
    }
}

/// Lets a test hold a transfer at a checkpoint: the transfer arrives and waits; the test
/// waits for the arrival, does its checks, and opens the gate.
actor Gate {
    private var arrived = false
    private var opened = false
    private var arrivalWaiters: [CheckedContinuation<Void, Never>] = []
    private var openWaiters: [CheckedContinuation<Void, Never>] = []

    func arriveAndWait() async {
        arrived = true
        arrivalWaiters.forEach { $0.resume() }
        arrivalWaiters = []
        if opened { return }
        await withCheckedContinuation { openWaiters.append($0) }
    }

    func waitForArrival() async {
        if arrived { return }
        await withCheckedContinuation { arrivalWaiters.append($0) }
    }

    func open() {
        opened = true
        openWaiters.forEach { $0.resume() }
        openWaiters = []
    }
}

@Suite("Review fixes: nothing fails open")
struct FailClosedTests {
    @Test("collection refuses to run when the restore points cannot be listed")
    func unlistableRestorePoints() async throws {
        let (folder, _, repository) = try await RetentionAndGCTests.fiveRestorePoints("unlistable")
        defer { try? FileManager.default.removeItem(at: folder) }
        let chunksBefore = try FileManager.default.subpathsOfDirectory(atPath: repository.chunks.directory).count
        let restorePoints = folder.appendingPathComponent("repo/restore-points")
        try FileManager.default.moveItem(at: restorePoints, to: folder.appendingPathComponent("moved-away"))
        #expect(throws: RepositoryError.self) { try GarbageCollector(repository: repository).collect() }
        #expect(throws: RepositoryError.self) { try RepositoryVerifier(repository: repository).verify() }
        #expect(try FileManager.default.subpathsOfDirectory(atPath: repository.chunks.directory).count == chunksBefore)
    }

    @Test("retention keeps N restore points of each VM, never a VM's last one unless asked, and plans without deleting")
    func retentionPerVM() async throws {
        let folder = try ImageMaker.scratchFolder("per-vm")
        defer { try? FileManager.default.removeItem(at: folder) }
        let image = folder.appendingPathComponent("disk.img")
        try ImageMaker.image(at: image, megabytes: 2, tail: 0)
        let repository = try BackupRepository.create(at: folder.appendingPathComponent("repo"))
        // One old point of vm-0, then five of vm-1 (manifest times have whole seconds: ties go by id) (ids as jobs write them: <vm id>-<session>).
        try await backup(image, to: repository, restorePoint: "vm-0-0000000a", disk: "disk-2000")
        for number in 1...5 {
            try ImageMaker.mutate(image, at: [number * 100_000])
            try await backup(image, to: repository, restorePoint: "vm-1-0000000\(number)", disk: "disk-2000")
        }
        #expect(BackupRepository.chain(of: "vm-1-00000001") == "vm-1")
        let planned = try repository.retentionPlan(.restorePoints(3), wholeRepository: true, removingLast: true).map(\.restorePoint)
        #expect(planned == ["vm-0-0000000a", "vm-1-00000001", "vm-1-00000002"])
        #expect(try repository.restorePoints().count == 6)
        #expect(
            try repository.retentionPlan(.restorePoints(3), wholeRepository: true).map(\.restorePoint) == [
                "vm-1-00000001", "vm-1-00000002",
            ])
        #expect(try repository.applyRetention(.restorePoints(3)) == ["vm-1-00000001", "vm-1-00000002"])
        #expect(try repository.restorePoints().contains("vm-0-0000000a"))
        #expect(try repository.applyRetention(.restorePoints(3)).isEmpty)
    }

    @Test("a restore point folder without a manifest is not a restore point, and retention is scoped by prefix")
    func emptyFolderAndPrefix() async throws {
        let (folder, _, repository) = try await RetentionAndGCTests.fiveRestorePoints("prefix")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(
            at: folder.appendingPathComponent("repo/restore-points/rp-9"), withIntermediateDirectories: true)
        #expect(try repository.restorePoints() == ["rp-1", "rp-2", "rp-3", "rp-4", "rp-5"])
        #expect(try repository.applyRetention(.restorePoints(3), prefix: "other-").isEmpty)
        #expect(try repository.applyRetention(.restorePoints(4), prefix: "rp-") == ["rp-1"])
    }

    @Test("a restore onto a link or a device is refused")
    func restoreOntoNonFile() async throws {
        let (folder, _, repository) = try await RetentionAndGCTests.fiveRestorePoints("link")
        defer { try? FileManager.default.removeItem(at: folder) }
        let link = folder.appendingPathComponent("link.img")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: folder.appendingPathComponent("disk.img").path)
        let manifest = try repository.manifest(restorePoint: "rp-5", disk: "d0")
        let error = #expect(throws: RepositoryError.self) {
            try DiskRestore.restore(manifest, from: repository, to: link.path, overwrite: true)
        }
        #expect(error?.message.contains("not a regular file") == true)
        #expect(throws: RepositoryError.self) {
            try DiskRestore.restore(manifest, from: repository, to: "/dev/null", overwrite: true)
        }
    }

    @Test("a chunk header claiming a huge block is damage, not a 4 GiB allocation")
    func hugeHeader() async throws {
        let (folder, _, repository) = try await RetentionAndGCTests.fiveRestorePoints("header")
        defer { try? FileManager.default.removeItem(at: folder) }
        let chunk = try #require(try repository.manifest(restorePoint: "rp-5", disk: "d0").blocks.compactMap { $0 }.first)
        let path = URL(fileURLWithPath: repository.chunks.path(of: chunk))
        var bytes = [UInt8](try Data(contentsOf: path))
        bytes[12...15] = [0xFF, 0xFF, 0xFF, 0xFF][...]
        try Data(bytes).write(to: path)
        guard case .failure(.damaged(let reason)) = repository.chunks.read(chunk) else {
            Issue.record("the damaged header was not reported")
            return
        }
        #expect(reason.contains("larger than any block size"))
    }

    @Test("a resume against the same path rewritten since is refused")
    func resumeAgainstRewrittenFile() async throws {
        let (folder, image, repository) = try imageAndRepository("rewritten", megabytes: 8)
        defer { try? FileManager.default.removeItem(at: folder) }
        let transfer = try smallStepTransfer(image, to: repository, checkpointBytes: 1 << 20)
        await #expect(throws: StopTransfer.self) { try await transfer.run { _ in throw StopTransfer() } }
        try ImageMaker.image(at: image, megabytes: 8, tail: 0, seed: 7)
        let error = await #expect(throws: RepositoryError.self) {
            try await backup(image, to: repository, restorePoint: "rp-1", disk: "d0", blockSize: try BlockSize(parsing: "256K"))
        }
        #expect(error?.message.contains("same snapshot") == true)
    }
}

@Suite("Stale progress")
struct StaleProgressTests {
    @Test("dropping stale progress frees the interrupted transfer's chunks; fresh progress is kept")
    func dropStaleProgress() async throws {
        let (folder, image, repository) = try imageAndRepository("stale", megabytes: 8)
        defer { try? FileManager.default.removeItem(at: folder) }
        let transfer = try smallStepTransfer(image, to: repository, checkpointBytes: 2 << 20)
        await #expect(throws: StopTransfer.self) { try await transfer.run { _ in throw StopTransfer() } }
        let saved = try #require(try repository.progress(restorePoint: "rp-1", disk: "d0"))
        // Blocks finished beyond the saved prefix left chunks nothing references; those may go.
        let kept = try GarbageCollector(repository: repository).collect(dropProgressOlderThan: 86_400)
        #expect(kept.droppedProgress == 0)
        #expect(kept.referencedChunks == Set(saved.blocks.compactMap { $0 }).count)
        #expect(try repository.progress(restorePoint: "rp-1", disk: "d0") == saved)

        let later = Date().addingTimeInterval(2 * 86_400)
        let dropped = try GarbageCollector(repository: repository).collect(dropProgressOlderThan: 86_400, now: later)
        #expect(dropped.droppedProgress == 1)
        #expect(dropped.deletedChunks == kept.referencedChunks)
        #expect(try repository.progress(restorePoint: "rp-1", disk: "d0") == nil)
        let fresh = try await transfer.run()
        #expect(fresh.resumedBlocks == 0)
        let restored = folder.appendingPathComponent("restored.img")
        try DiskRestore.restore(fresh.manifest, from: repository, to: restored.path, overwrite: false)
        #expect(try ImageMaker.sha256(of: restored) == ImageMaker.sha256(of: image))
    }
}
