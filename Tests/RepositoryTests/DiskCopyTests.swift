import DataMover
import Foundation
import Repository
import Testing

/// A restore point's disk copied between repositories: only what the target lacks is sent,
/// and the copy restores byte-identical, also into an encrypted repository (names differ).
@Suite("Copying a disk between repositories")
struct DiskCopyTests {
    @Test("only the chunks the target lacks are sent; a second copy sends none; the copy restores byte-identical")
    func onlyMissing() async throws {
        let (folder, image, source) = try imageAndRepository("copy", megabytes: 6)
        defer { try? FileManager.default.removeItem(at: folder) }
        let manifest = try await backup(image, to: source, restorePoint: "rp-1", disk: "d0").manifest
        let target = try BackupRepository.create(at: folder.appendingPathComponent("offsite"))
        let chunks = Set(manifest.blocks.compactMap { $0 })

        // Half the chunks are there already (an earlier copy of an older point).
        let present = Array(chunks.sorted { $0.hex < $1.hex }.prefix(chunks.count / 2))
        for id in present { _ = try target.commit(try source.loadChunk(id).withUnsafeBytes { try target.chunks.encode($0, as: id) }) }

        let copy = DiskCopy(from: source, to: target)
        let hold = try target.beginTransfer(fence: nil)
        let first = try copy.copy(manifest, as: "rp-1-copy", hold: hold)
        #expect(first.chunksSent == Int64(chunks.count - present.count))
        #expect(first.bytesSent > 0 && first.bytesRead < first.bytesCovered)
        let second = try copy.copy(manifest, as: "rp-2-copy", hold: hold)
        hold.release()
        #expect(second.chunksSent == 0 && second.bytesRead == 0)

        let copied = try target.manifest(restorePoint: "rp-1-copy", disk: "d0")
        #expect(copied.blocks == manifest.blocks)
        let restored = folder.appendingPathComponent("restored.img")
        try DiskRestore.restore(copied, from: target, to: restored.path, overwrite: false)
        #expect(try ImageMaker.sha256(of: restored) == ImageMaker.sha256(of: image))
        #expect(try target.verifyRestorePoint("rp-1-copy").isEmpty)
    }

    @Test("into an encrypted repository each block is named for it; a rotten chunk at the target fails verification")
    func encryptedTarget() async throws {
        let (folder, image, source) = try imageAndRepository("copy-sealed", megabytes: 3)
        defer { try? FileManager.default.removeItem(at: folder) }
        let manifest = try await backup(image, to: source, restorePoint: "rp-1", disk: "d0").manifest
        let key = try RepositoryKey.generate(at: folder.appendingPathComponent("offsite.key").path)
        let target = try BackupRepository.create(at: folder.appendingPathComponent("offsite"), key: key)
        let hold = try target.beginTransfer(fence: nil)
        defer { hold.release() }
        let figures = try DiskCopy(from: source, to: target).copy(manifest, as: "rp-1-copy", hold: hold)
        #expect(figures.chunksSent == Int64(Set(manifest.blocks.compactMap { $0 }).count))
        let copied = try target.manifest(restorePoint: "rp-1-copy", disk: "d0")
        #expect(copied.blocks != manifest.blocks && copied.blocks.map { $0 == nil } == manifest.blocks.map { $0 == nil })
        let restored = folder.appendingPathComponent("restored.img")
        try DiskRestore.restore(copied, from: target, to: restored.path, overwrite: false)
        #expect(try ImageMaker.sha256(of: restored) == ImageMaker.sha256(of: image))

        let victim = try #require(copied.blocks.compactMap { $0 }.first)
        let path = target.chunks.path(of: victim)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count - 1] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let problems = try target.verifyRestorePoint("rp-1-copy")
        #expect(problems.count >= 1 && problems[0].hasPrefix("d0 at byte"), "\(problems)")
    }
}
