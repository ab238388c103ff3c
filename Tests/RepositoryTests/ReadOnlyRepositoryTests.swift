import DataMover
import Foundation
import Infrastructure
import Repository
import Testing

/// A repository on a file system mounted read-only: backups are refused with the reason,
/// restores still work. Needs root's right to mount a tmpfs (CI runs as root).
@Suite("A read-only repository", .enabled(if: MountProbe.canMount))
struct ReadOnlyRepositoryTests {
    @discardableResult
    static func run(_ program: String, _ arguments: [String]) -> Bool { MountProbe.run(program, arguments) }

    @Test("a backup into it is refused with the reason and a restore from it works")
    func readOnly() async throws {
        let folder = try ImageMaker.scratchFolder("readonly")
        defer { try? FileManager.default.removeItem(at: folder) }
        let image = folder.appendingPathComponent("disk.img")
        try ImageMaker.image(at: image, megabytes: 4)
        let mountPoint = folder.appendingPathComponent("mnt")
        try FileManager.default.createDirectory(at: mountPoint, withIntermediateDirectories: true)
        #expect(Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=64m", "tmpfs", mountPoint.path]))
        // Lazily: a file of the repository still open when the test ends must not keep the
        // mount (and the run's scratch folder) behind.
        defer { Self.run("/bin/umount", ["-l", mountPoint.path]) }
        let repository = try BackupRepository.create(at: mountPoint.appendingPathComponent("repo"))
        let manifest = try await backup(image, to: repository, restorePoint: "rp-1", disk: "d0").manifest
        #expect(Self.run("/bin/mount", ["-o", "remount,ro", mountPoint.path]))

        let reopened = try BackupRepository.open(at: mountPoint.appendingPathComponent("repo"))
        let refused = await #expect(throws: RepositoryError.self) {
            try await backup(image, to: reopened, restorePoint: "rp-2", disk: "d0")
        }
        #expect(refused?.code == .notWritable)
        #expect(refused?.message.contains("cannot be written") == true)
        let restored = folder.appendingPathComponent("restored.img")
        try DiskRestore.restore(manifest, from: reopened, to: restored.path, overwrite: false)
        #expect(try ImageMaker.sha256(of: restored) == ImageMaker.sha256(of: image))
        #expect(try RepositoryVerifier(repository: reopened).verify().isClean)
        #expect(try reopened.restorePoints() == ["rp-1"])
    }
}

/// Whether this process may mount a tmpfs (root with the right to mount), and a quiet runner.
enum MountProbe {
    static let canMount: Bool = {
        guard geteuid() == 0 else { return false }
        let probe = NSTemporaryDirectory() + "tidemark-mount-probe-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: probe, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: probe) }
        guard run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", probe]) else { return false }
        _ = run("/bin/umount", [probe])
        return true
    }()

    @discardableResult
    static func run(_ program: String, _ arguments: [String]) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}
