import DataMover
import Foundation
import Infrastructure
import Repository
import Synchronization
import Testing

/// Issue 12, findings 4 and 8: a corrupt chunk must not spread into new restore points, and
/// a restore must never write into a repository.
@Suite("Corrupt chunks do not spread; restores never write into a repository")
struct HealthAndRestoreTargetTests {
    /// Flips 8 bytes in the middle of a chunk's payload (its length and header stay right).
    static func flip8Bytes(_ path: String) throws {
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let middle = 20 + (bytes.count - 20) / 2
        for index in middle..<(middle + 8) { bytes[index] ^= 0xA5 }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    @Test(
        "a chunk found corrupt is quarantined, the next incremental stores its block again instead of referencing it, and the heal is seen")
    func corruptChunkIsNotReferencedAgain() async throws {
        let (folder, image, repository) = try imageAndRepository("health-heal", megabytes: 8)
        defer { try? FileManager.default.removeItem(at: folder) }
        let first = try await backup(image, to: repository, restorePoint: "vm-1-aaaaaaaa", disk: "d0")
        let chunk = try #require(first.manifest.blocks.compactMap { $0 }.first)
        try Self.flip8Bytes(repository.chunks.path(of: chunk))
        // The cheap check cannot see bits flipped inside the payload: only a health check does.
        #expect(repository.chunks.soundness(of: chunk) == .sound)

        let health = RepositoryHealth(repository: repository)
        var verdicts: [ChunkID: ChunkProblem?] = [:]
        let report = try health.verify("vm-1-aaaaaaaa", verdicts: &verdicts)
        #expect(report.corrupt[chunk] != nil)
        #expect(report.damage.contains { $0.chunk == chunk })
        #expect(try health.quarantine(chunk))
        #expect(repository.chunks.isQuarantined(chunk))
        #expect(try health.restoredQuarantinedChunks().isEmpty)

        // An incremental with nothing changed would take every block from the base manifest.
        var transfer = DiskTransfer(
            repository: repository, restorePoint: "vm-1-bbbbbbbb", disk: "d0", source: try ImageFileSource(path: image.path))
        transfer.changedBlocks = (first.manifest, [])
        let second = try await transfer.run()
        #expect(second.manifest.blocks.contains(chunk))
        #expect(second.progress.bytesTransferred > 0, "the block was stored again")
        guard case .success = repository.chunks.read(chunk) else {
            Issue.record("the new restore point references a chunk that does not read back whole")
            return
        }
        #expect(try health.restoredQuarantinedChunks() == [chunk])
        var again: [ChunkID: ChunkProblem?] = [:]
        #expect(try health.verify("vm-1-aaaaaaaa", verdicts: &again).damage.isEmpty, "the old restore point is healed too")
    }

    @Test("a chunk quarantined while a transfer runs is stored again before the manifest names it")
    func quarantinedDuringTransfer() async throws {
        let (folder, image, repository) = try imageAndRepository("health-race", megabytes: 4)
        defer { try? FileManager.default.removeItem(at: folder) }
        let first = try await backup(image, to: repository, restorePoint: "rp-1", disk: "d0", blockSize: try BlockSize(parsing: "256K"))
        let named = first.manifest.blocks.compactMap { $0 }
        // A chunk only one block names, so no later block of the transfer stores it again.
        let chunk = try #require(
            first.manifest.blocks.dropLast(2).compactMap { $0 }.first { candidate in named.filter { $0 == candidate }.count == 1 })
        var transfer = DiskTransfer(
            repository: repository, restorePoint: "rp-2", disk: "d0", source: try ImageFileSource(path: image.path),
            blockSize: try BlockSize(parsing: "256K"))
        transfer.parallelism = 1
        transfer.checkpointBytes = 256 << 10
        transfer.checkpointInterval = .milliseconds(1)
        let health = RepositoryHealth(repository: repository)
        let moved = OnceFlag()
        // Quarantined by a "health check" right after the transfer deduplicated against it.
        let outcome = try await transfer.run { progress in
            if !moved.isSet, progress.blocks.contains(chunk) {
                moved.set()
                _ = try health.quarantine(chunk)
            }
        }
        #expect(moved.isSet)
        #expect(outcome.rewrittenBlocks > 0)
        #expect(repository.chunks.soundness(of: chunk) == .sound)
    }

    @Test("deduplication does not trust a torn chunk: a backup that meets it writes it again")
    func tornChunkIsRewritten() async throws {
        let (folder, image, repository) = try imageAndRepository("health-torn", megabytes: 4)
        defer { try? FileManager.default.removeItem(at: folder) }
        let first = try await backup(image, to: repository, restorePoint: "rp-1", disk: "d0")
        let chunk = try #require(first.manifest.blocks.compactMap { $0 }.first)
        let path = repository.chunks.path(of: chunk)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
        #expect(repository.chunks.soundness(of: chunk) != .sound)
        try await backup(image, to: repository, restorePoint: "rp-2", disk: "d0")
        #expect(repository.chunks.soundness(of: chunk) == .sound)
        guard case .success = repository.chunks.read(chunk) else {
            Issue.record("the torn chunk was referenced again instead of rewritten")
            return
        }
    }

    @Test("restore --force into a repository is refused and writes nothing: a chunk, a manifest, a link into it, another repository")
    func restoreIntoRepositoryRefused() async throws {
        let (folder, image, repository) = try imageAndRepository("restore-target", megabytes: 2)
        defer { try? FileManager.default.removeItem(at: folder) }
        let outcome = try await backup(image, to: repository, restorePoint: "rp-1", disk: "d0")
        let chunk = try #require(outcome.manifest.blocks.compactMap { $0 }.first)
        let other = try BackupRepository.create(at: folder.appendingPathComponent("other"))
        try FileManager.default.createSymbolicLink(
            atPath: folder.appendingPathComponent("link").path,
            withDestinationPath: repository.root.appendingPathComponent("restore-points").path)
        let targets = [
            repository.chunks.path(of: chunk),
            repository.root.appendingPathComponent("restore-points/rp-1/d0.json").path,
            folder.appendingPathComponent("link/rp-1/d0.json").path,
            other.root.appendingPathComponent("new-folder/disk.img").path,
        ]
        for target in targets {
            let before = try? Data(contentsOf: URL(fileURLWithPath: target))
            let error = #expect(throws: RepositoryError.self) {
                try DiskRestore.restore(outcome.manifest, from: repository, to: target, overwrite: true)
            }
            #expect(error?.message.contains("inside the Tidemark repository") == true, "\(error?.message ?? "")")
            #expect((try? Data(contentsOf: URL(fileURLWithPath: target))) == before)
        }
        // A catalog repository that is not mounted has no marker: refused by path.
        let unmounted = folder.appendingPathComponent("unmounted").path
        #expect(throws: RepositoryError.self) {
            try RestoreTarget.checkOutside(unmounted + "/disk.img", knownRepositories: [unmounted])
        }
        try RestoreTarget.checkOutside(folder.appendingPathComponent("restored.img").path, knownRepositories: [unmounted])
        try DiskRestore.restore(
            outcome.manifest, from: repository, to: folder.appendingPathComponent("restored.img").path, overwrite: false)
    }
}

/// A flag set once from a checkpoint callback.
final class OnceFlag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}
