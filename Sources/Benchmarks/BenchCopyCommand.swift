import ArgumentParser
import BlockingIO
import CommandLineSupport
import DataMover
import Foundation
import Infrastructure
import Repository

/// `tidemark bench copy`: a backup copy job's step — one restore point of a generated disk
/// copied from a repository into another that holds half of its chunks already — beside
/// restic's `copy` of the same image's snapshot between two repositories in the same state,
/// in the same run: the time, and the bytes the target gained.
struct BenchCopyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "A restore point copied into a repository that holds half of it, beside restic copy of the same data."
    )

    @Option(help: "Size of the disk image, such as 1G or 512M.") var diskSize: String = "1G"
    @Option(help: "A scratch folder (made, and removed after).") var folder: String?
    @Flag(help: "Print {\"cases\":[...]} instead of a table.") var json = false

    func validate() throws { _ = try parsedDiskSize() }

    private func parsedDiskSize() throws -> Int64 {
        try CommandLineSupport.parseSize(diskSize, option: "--disk-size", range: (Int64(64) << 20)...(Int64(64) << 30))
    }

    func run() async throws {
        let size = try parsedDiskSize()
        let scratch = URL(fileURLWithPath: folder ?? NSTemporaryDirectory()).appendingPathComponent(
            "tidemark-bench-copy-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let image = scratch.appendingPathComponent("disk.img").path
        let half = scratch.appendingPathComponent("half.img").path
        try await BlockingIOPool.shared.run { () throws in
            try DiskImageGenerator.generate(at: image, size: size)
            // The image's first half (a whole number of blocks), as an older point holds it.
            try FileManager.default.copyItem(atPath: image, toPath: half)
            guard truncate(half, off_t(size / 2)) == 0 else { throw BenchError("cannot cut \(half) to half its size") }
            sync()
        }
        let source = try BackupRepository.create(at: scratch.appendingPathComponent("source"))
        let manifest = try await DiskTransfer(
            repository: source, restorePoint: "point", disk: "d0", source: try ImageFileSource(path: image)
        ).run().manifest
        let target = try BackupRepository.create(at: scratch.appendingPathComponent("target"))
        _ = try await DiskTransfer(repository: target, restorePoint: "older", disk: "d0", source: try ImageFileSource(path: half)).run()
        let before = try BenchBackupCommand.folderSize(target.root.path)
        let clock = ContinuousClock()
        let start = clock.now
        let figures = try await BlockingIOPool.shared.run { () throws(RepositoryError) -> DiskCopy.Figures in
            let hold = try target.beginTransfer(fence: nil)
            defer { hold.release() }
            return try DiskCopy(from: source, to: target).copy(manifest, as: "copy", hold: hold)
        }
        let seconds = (clock.now - start).seconds
        let grown = try BenchBackupCommand.folderSize(target.root.path) - before
        guard
            let restic = try await BlockingIOPool.shared.run({ () throws in
                try PeerBench.resticCopy(image: image, half: half, work: scratch.path)
            })
        else {
            throw BenchError("restic is not installed (Tools/install-dependencies installs it): the bench has no reference")
        }
        let megabytes = Double(size) / 1e6
        BenchReport.print(
            [
                BenchCase(
                    name: "copy of a \(diskSize) restore point, half at the target", value: megabytes / max(seconds, 1e-6), unit: "MB/s",
                    reference: megabytes / max(restic.seconds, 1e-6)),
                BenchCase(
                    name: "bytes the target gained", value: Double(grown) / 1e6, unit: "MB", reference: Double(restic.bytesSent) / 1e6),
            ], json: json,
            notes: [
                String(
                    format:
                        "Tidemark: a generated image (40%% zeros, 30%% compressible, 30%% random) backed up to a folder repository, copied into one that holds its first half; %lld chunks sent (%.1f MB as stored), %.2f s",
                    figures.chunksSent, Double(figures.bytesSent) / 1e6, seconds),
                String(
                    format:
                        "reference: restic %@ copy of the same image's snapshot between two local repositories, the target holding the first half (backed up there with the source's chunker parameters), %.2f s; restic encrypts, Tidemark's folders here do not",
                    restic.version, restic.seconds),
            ])
    }
}
