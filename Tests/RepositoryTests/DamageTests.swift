import Foundation
import Infrastructure
import Repository
import Testing

@Suite("Damage is caught, bad input is refused, the repository stays consistent")
struct DamageTests {
    /// A repository with one restore point of an 8 MiB image.
    static func backedUp(_ name: String) async throws -> (URL, BackupRepository, DiskManifest) {
        let folder = try ImageMaker.scratchFolder(name)
        let image = folder.appendingPathComponent("disk.img")
        try ImageMaker.image(at: image, megabytes: 8)
        let repository = try BackupRepository.create(at: folder.appendingPathComponent("repo"))
        let result = try await backup(image, to: repository, restorePoint: "rp-1", disk: "d0")
        return (folder, repository, result.manifest)
    }

    @Test("a flipped byte in a chunk is reported by verify with restore point and offset, and stops a restore")
    func flippedByte() async throws {
        let (folder, repository, manifest) = try await Self.backedUp("flip")
        defer { try? FileManager.default.removeItem(at: folder) }
        let index = try #require(manifest.blocks.firstIndex { $0 != nil })
        let chunk = try #require(manifest.blocks[index])
        let path = repository.chunks.path(of: chunk)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count - 1] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let report = try RepositoryVerifier(repository: repository).verify()
        #expect(!report.isClean)
        let problem = try #require(report.problems.first)
        #expect(problem.restorePoint == "rp-1")
        #expect(problem.disk == "d0")
        #expect(problem.offset == Int64(index) << 20)
        #expect(problem.chunk == chunk)

        let target = folder.appendingPathComponent("restored.img")
        let error = #expect(throws: RepositoryError.self) {
            try DiskRestore.restore(manifest, from: repository, to: target.path, overwrite: false)
        }
        // Blocks load in parallel: the error names one of the offsets that use the chunk.
        let offsets = manifest.blocks.indices.filter { manifest.blocks[$0] == chunk }.map { "offset \(Int64($0) << 20):" }
        #expect(offsets.contains { error?.message.contains($0) == true }, "\(error?.message ?? "")")
        #expect(!FileManager.default.fileExists(atPath: target.path))
        #expect(throws: RepositoryError.self) { try DiskRestore.verifyOnly(manifest, from: repository) }
    }

    @Test("a missing chunk is reported as missing")
    func missingChunk() async throws {
        let (folder, repository, manifest) = try await Self.backedUp("missing")
        defer { try? FileManager.default.removeItem(at: folder) }
        let chunk = try #require(manifest.blocks.compactMap { $0 }.first)
        try FileManager.default.removeItem(atPath: repository.chunks.path(of: chunk))
        let report = try RepositoryVerifier(repository: repository).verify(restorePoints: ["rp-1"])
        #expect(report.problems.contains { $0.chunk == chunk && $0.problem == "missing" })
    }

    @Test("a truncated manifest is refused with a clear error")
    func truncatedManifest() async throws {
        let (folder, repository, _) = try await Self.backedUp("truncated")
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("repo/restore-points/rp-1/d0.json")
        let bytes = try Data(contentsOf: path)
        try bytes.prefix(bytes.count / 2).write(to: path)
        let error = #expect(throws: RepositoryError.self) { try repository.manifest(restorePoint: "rp-1", disk: "d0") }
        #expect(error?.code == .damagedManifest)
        #expect(error?.message.contains("truncated") == true)
        let report = try RepositoryVerifier(repository: repository).verify()
        #expect(report.problems.first?.problem.contains("damaged") == true)
    }

    @Test("a restore into an existing file needs overwrite (--force)")
    func existingDestination() async throws {
        let (folder, repository, manifest) = try await Self.backedUp("existing")
        defer { try? FileManager.default.removeItem(at: folder) }
        let target = folder.appendingPathComponent("disk.img")
        let before = try ImageMaker.sha256(of: target)
        let error = #expect(throws: RepositoryError.self) {
            try DiskRestore.restore(manifest, from: repository, to: target.path, overwrite: false)
        }
        #expect(error?.code == .destinationExists)
        #expect(error?.message.contains("--force") == true)
        try DiskRestore.restore(manifest, from: repository, to: target.path, overwrite: true)
        #expect(try ImageMaker.sha256(of: target) == before)
    }

    @Test(
        "block sizes that are not a power of two from 256 KiB to 8 MiB are refused",
        arguments: [
            "3M", "128K", "16M", "0", "-1M", "big", "1.5M",
        ])
    func badBlockSizes(text: String) {
        let error = #expect(throws: RepositoryError.self) { try BlockSize(parsing: text) }
        #expect(error?.code == .invalidInput)
    }

    @Test("a missing repository path, a folder that is not a repository, and bad names are refused")
    func badPaths() async throws {
        let folder = try ImageMaker.scratchFolder("paths")
        defer { try? FileManager.default.removeItem(at: folder) }
        let missing = #expect(throws: RepositoryError.self) {
            try BackupRepository.open(at: folder.appendingPathComponent("nowhere"))
        }
        #expect(missing?.message.contains("does not exist") == true)
        let notRepository = #expect(throws: RepositoryError.self) { try BackupRepository.open(at: folder) }
        #expect(notRepository?.code == .notARepository)
        let repository = try BackupRepository.create(at: folder.appendingPathComponent("repo"))
        let image = folder.appendingPathComponent("disk.img")
        try ImageMaker.image(at: image, megabytes: 1)
        for name in ["../escape", "", ".hidden", "a/b"] {
            await #expect(throws: RepositoryError.self, "\(name)") {
                try await backup(image, to: repository, restorePoint: name, disk: "d0")
            }
        }
        let vanished = await #expect(throws: InfrastructureError.self) {
            try await backup(folder.appendingPathComponent("gone.img"), to: repository, restorePoint: "rp", disk: "d0")
        }
        #expect(vanished?.message.contains("gone.img") == true)
        #expect(try repository.restorePoints().isEmpty)
    }
}

@Suite("Healing")
struct HealingTests {
    @Test("a quarantined corrupt chunk is stored again by the next backup, and the old restore point restores again")
    func quarantineThenHeal() async throws {
        let (folder, repository, manifest) = try await DamageTests.backedUp("heal")
        defer { try? FileManager.default.removeItem(at: folder) }
        let image = folder.appendingPathComponent("disk.img")
        let chunk = try #require(manifest.blocks.compactMap { $0 }.first)
        let path = URL(fileURLWithPath: repository.chunks.path(of: chunk))
        var bytes = [UInt8](try Data(contentsOf: path))
        bytes[bytes.count - 1] ^= 0x01
        try Data(bytes).write(to: path)

        let report = try RepositoryVerifier(repository: repository).verify(quarantine: true)
        #expect(report.quarantined == [chunk])
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("repo/quarantine/\(chunk.hex)").path))
        let afterQuarantine = try RepositoryVerifier(repository: repository).verify()
        #expect(afterQuarantine.problems.allSatisfy { $0.problem == "missing" })

        try await backup(image, to: repository, restorePoint: "rp-2", disk: "d0")
        #expect(try RepositoryVerifier(repository: repository).verify().isClean)
        let restored = folder.appendingPathComponent("restored.img")
        try DiskRestore.restore(manifest, from: repository, to: restored.path, overwrite: false)
        #expect(try ImageMaker.sha256(of: restored) == ImageMaker.sha256(of: image))
    }
}
