import Foundation
import Repository
import Testing

@Suite("Encryption at rest")
struct EncryptionTests {
    static func encryptedBackup(_ name: String) async throws -> (URL, URL, String, DiskManifest) {
        let folder = try ImageMaker.scratchFolder(name)
        let image = folder.appendingPathComponent("disk.img")
        try ImageMaker.image(at: image, megabytes: 4)
        let keyPath = folder.appendingPathComponent("repo.key").path
        let key = try RepositoryKey.generate(at: keyPath)
        let repository = try BackupRepository.create(at: folder.appendingPathComponent("repo"), key: key)
        #expect(repository.isEncrypted)
        let outcome = try await backup(image, to: repository, restorePoint: "rp-1", disk: "d0")
        return (folder, image, keyPath, outcome.manifest)
    }

    @Test("an encrypted repository restores byte for byte, and its chunk names are not content hashes")
    func roundTrip() async throws {
        let (folder, image, keyPath, manifest) = try await Self.encryptedBackup("encrypted")
        defer { try? FileManager.default.removeItem(at: folder) }
        let repository = try BackupRepository.open(at: folder.appendingPathComponent("repo"), key: try RepositoryKey(contentsOf: keyPath))
        let restored = folder.appendingPathComponent("restored.img")
        try DiskRestore.restore(manifest, from: repository, to: restored.path, overwrite: false)
        #expect(try ImageMaker.sha256(of: restored) == ImageMaker.sha256(of: image))
        #expect(try RepositoryVerifier(repository: repository).verify().isClean)

        let plain = try BackupRepository.create(at: folder.appendingPathComponent("plain"))
        let plainManifest = try await backup(image, to: plain, restorePoint: "rp-1", disk: "d0").manifest
        #expect(Set(plainManifest.blocks.compactMap { $0 }).isDisjoint(with: manifest.blocks.compactMap { $0 }))
        // The compressible text of the image must not appear in any chunk file.
        let needle = Data("Tidemark keeps every step".utf8)
        for path in try FileManager.default.subpathsOfDirectory(atPath: repository.chunks.directory) {
            let data = (try? Data(contentsOf: URL(fileURLWithPath: repository.chunks.directory + "/" + path))) ?? Data()
            #expect(data.range(of: needle) == nil)
        }
    }

    @Test("a wrong key is refused by name before any chunk is read; no key refuses to read")
    func wrongOrMissingKey() async throws {
        let (folder, _, _, manifest) = try await Self.encryptedBackup("wrong-key")
        defer { try? FileManager.default.removeItem(at: folder) }
        let otherPath = folder.appendingPathComponent("other.key").path
        let other = try RepositoryKey.generate(at: otherPath)
        let wrong = #expect(throws: RepositoryError.self) {
            try BackupRepository.open(at: folder.appendingPathComponent("repo"), key: other)
        }
        #expect(wrong?.code == .wrongKey)
        #expect(wrong?.message.contains("fingerprint") == true)

        let locked = try BackupRepository.open(at: folder.appendingPathComponent("repo"))
        let missing = #expect(throws: RepositoryError.self) {
            try DiskRestore.restore(manifest, from: locked, to: folder.appendingPathComponent("x.img").path, overwrite: false)
        }
        #expect(missing?.code == .keyRequired)
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("x.img").path))
    }

    @Test("a tampered sealed chunk fails authentication and is reported")
    func tamperedChunk() async throws {
        let (folder, _, keyPath, manifest) = try await Self.encryptedBackup("tampered")
        defer { try? FileManager.default.removeItem(at: folder) }
        let repository = try BackupRepository.open(at: folder.appendingPathComponent("repo"), key: try RepositoryKey(contentsOf: keyPath))
        let chunk = try #require(manifest.blocks.compactMap { $0 }.first)
        let path = URL(fileURLWithPath: repository.chunks.path(of: chunk))
        var bytes = [UInt8](try Data(contentsOf: path))
        bytes[bytes.count / 2] ^= 0x40
        try Data(bytes).write(to: path)
        let report = try RepositoryVerifier(repository: repository).verify()
        #expect(report.problems.contains { $0.chunk == chunk && $0.problem.contains("decrypt") })
    }

    @Test("bad key files, a key for a plain repository, and overwriting a key are refused")
    func badKeys() throws {
        let folder = try ImageMaker.scratchFolder("keys")
        defer { try? FileManager.default.removeItem(at: folder) }
        let short = folder.appendingPathComponent("short.key")
        try Data("abc123".utf8).write(to: short)
        let error = #expect(throws: RepositoryError.self) { try RepositoryKey(contentsOf: short.path) }
        #expect(error?.message.contains("generate-key") == true)
        #expect(throws: RepositoryError.self) { try RepositoryKey(contentsOf: folder.appendingPathComponent("none.key").path) }
        let keyPath = folder.appendingPathComponent("k.key").path
        let key = try RepositoryKey.generate(at: keyPath)
        let overwrite = #expect(throws: RepositoryError.self) { try RepositoryKey.generate(at: keyPath) }
        #expect(overwrite?.message.contains("never overwritten") == true)
        #expect(try RepositoryKey(contentsOf: keyPath).fingerprint == key.fingerprint)
        let attributes = try FileManager.default.attributesOfItem(atPath: keyPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        _ = try BackupRepository.create(at: folder.appendingPathComponent("plain"))
        let plain = #expect(throws: RepositoryError.self) {
            try BackupRepository.open(at: folder.appendingPathComponent("plain"), key: key)
        }
        #expect(plain?.message.contains("not encrypted") == true)
    }
}
