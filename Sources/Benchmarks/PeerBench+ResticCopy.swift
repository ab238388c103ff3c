import CommandLineSupport
import Foundation

extension PeerBench {
    /// restic's `copy` of the same disk image's snapshot between two local repositories, the
    /// target holding the image's first half already (backed up there from a file of that
    /// half, with the source's chunker parameters so the blobs match): seconds and the bytes
    /// the target grew by. Nil when restic is not installed.
    static func resticCopy(image: String, half: String, work: String) throws -> (seconds: Double, bytesSent: Int64, version: String)? {
        guard let program = executable(named: "restic") else { return nil }
        setenv("RESTIC_PASSWORD", "tidemark-bench", 1)
        setenv("RESTIC_FROM_PASSWORD", "tidemark-bench", 1)
        let source = "\(work)/restic-copy-source", target = "\(work)/restic-copy-target"
        let whole = "\(work)/restic-copy-whole", part = "\(work)/restic-copy-half"
        defer { for folder in [source, target, whole, part] { try? FileManager.default.removeItem(atPath: folder) } }
        for folder in [whole, part] { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        // Hard links: the same bytes under the names restic records, without a second copy.
        try FileManager.default.linkItem(atPath: image, toPath: whole + "/disk.img")
        try FileManager.default.linkItem(atPath: half, toPath: part + "/disk.img")
        try run(program, ["init", "--repo", source])
        try run(program, ["backup", "--repo", source, "--quiet", whole + "/disk.img"])
        try run(program, ["init", "--repo", target, "--from-repo", source, "--copy-chunker-params"])
        try run(program, ["backup", "--repo", target, "--quiet", part + "/disk.img"])
        let before = try BenchBackupCommand.folderSize(target)
        let seconds = try timed { try run(program, ["copy", "--repo", target, "--from-repo", source, "--quiet"]) }
        let grown = try BenchBackupCommand.folderSize(target) - before
        let version = (try? run(program, ["version"])).flatMap { $0.split(separator: " ").dropFirst().first.map(String.init) } ?? "?"
        return (seconds, grown, version)
    }
}
