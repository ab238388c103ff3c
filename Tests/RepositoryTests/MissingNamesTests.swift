import Foundation
import Repository
import Testing

@Suite("Restore points and disks that are not there are named with those that are")
struct MissingNamesTests {
    @Test("a wrong disk lists the restore point's disks; a wrong restore point lists the newest ones; verify says the same")
    func choicesListed() async throws {
        let folder = try ImageMaker.scratchFolder("missing-names")
        defer { try? FileManager.default.removeItem(at: folder) }
        let image = folder.appendingPathComponent("disk.img")
        try ImageMaker.image(at: image, megabytes: 1, tail: 0)
        let repository = try BackupRepository.create(at: folder.appendingPathComponent("repo"))
        try await backup(image, to: repository, restorePoint: "vm-1-0000000a", disk: "disk-2000")
        try await backup(image, to: repository, restorePoint: "vm-1-0000000a", disk: "disk-2001")
        try await backup(image, to: repository, restorePoint: "vm-2-0000000b", disk: "disk-2000")

        let wrongDisk = #expect(throws: RepositoryError.self) { try repository.manifest(restorePoint: "vm-1-0000000a", disk: "scsi0-0") }
        #expect(wrongDisk?.code == .missingManifest)
        #expect(wrongDisk?.message == "restore point vm-1-0000000a has no disk 'scsi0-0'; its disks: disk-2000, disk-2001")

        let wrongPoint = #expect(throws: RepositoryError.self) { try repository.manifest(restorePoint: "rp-1", disk: "disk-2000") }
        #expect(wrongPoint?.message.contains("has no restore point 'rp-1'; the newest it holds: ") == true)
        #expect(wrongPoint?.message.contains("vm-1-0000000a") == true && wrongPoint?.message.contains("vm-2-0000000b") == true)

        let verify = #expect(throws: RepositoryError.self) {
            try RepositoryVerifier(repository: repository).verify(restorePoints: ["rp-1"])
        }
        #expect(verify?.message == wrongPoint?.message)

        let empty = try BackupRepository.create(at: folder.appendingPathComponent("empty"))
        let none = #expect(throws: RepositoryError.self) { try empty.manifest(restorePoint: "rp-1", disk: "disk-2000") }
        #expect(none?.message.hasSuffix("has no restore point 'rp-1': it holds none yet") == true)
    }
}
