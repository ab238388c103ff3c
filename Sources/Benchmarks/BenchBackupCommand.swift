import ArgumentParser
import CommandLineSupport
import DataMover
import Foundation
import Infrastructure
import Repository

struct BenchBackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Full and incremental backups and a restore of a disk image, beside restic (and borg) on the same images.",
        discussion: """
            Generates a disk image (about 40% zeros, 30% compressible, 30% random) and a copy with 2% of its
            blocks rewritten, or takes --image and --changed. Tidemark backs up the first (three times, each
            into a fresh repository, beside restic's), then the second reading everything, then the second with changed-block information, and restores it. restic and
            borg, when installed (Tools/bench-peers installs them), back up the same two files in the same run.
            Figures are MB/s of logical disk size over wall time, repository sizes, and peak memory.
            """)
    @Option(help: "Size of the generated image, such as 2G or 512M.") var size: String = "2G"
    @Option(help: "Use this raw image instead of a generated one.") var image: String?
    @Option(help: "The second image (the first, changed), with --image.") var changed: String?
    @Option(help: "Folder for images and repositories (default: a new folder under /tmp).") var workDir: String?
    @Flag(help: "Print {\"cases\":[...]} instead of a table.") var json = false

    func validate() throws {
        if (image == nil) != (changed == nil) { throw ValidationError("give both --image and --changed, or neither") }
        _ = try parseSize()
    }

    private func parseSize() throws -> Int64 {
        try CommandLineSupport.parseSize(size, option: "--size", range: (Int64(64) << 20)...(Int64(256) << 30))
    }

    func run() async throws {
        let work = workDir ?? (NSTemporaryDirectory() + "tidemark-bench-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { if workDir == nil { try? FileManager.default.removeItem(atPath: work) } }
        let first = image ?? work + "/disk-1.img"
        let second = changed ?? work + "/disk-2.img"
        var changedBlocks: Set<Int>?
        if image == nil {
            try DiskImageGenerator.generate(at: first, size: try parseSize())
            changedBlocks = try DiskImageGenerator.mutatedCopy(of: first, at: second, percent: 2)
            // The images' gigabytes would otherwise be written back during the first backup,
            // and its flush before the manifest (a `syncfs`) would wait for them too: a VM's disk
            // being backed up is not dirty in the backup server's page cache.
            sync()
        }
        let diskSize = (try FileManager.default.attributesOfItem(atPath: first)[.size] as? Int64) ?? 0
        let clock = ContinuousClock()
        func megabytesPerSecond(_ elapsed: Duration) -> Double { Double(diskSize) / 1e6 / max(elapsed.seconds, 1e-6) }

        // Tidemark. The full backup runs with a timer on the cooperative pool beside it: file
        // work belongs on the blocking I/O threads, and the timer's lateness shows whether it is.
        let idleLateness = try await CooperativeLateness.idle(for: .seconds(2))
        let repositoryPath = work + "/tidemark-repo"
        try? FileManager.default.removeItem(atPath: repositoryPath)
        let repository = try BackupRepository.create(at: URL(fileURLWithPath: repositoryPath))
        var start = clock.now
        let source = try ImageFileSource(path: first)
        let (full, backupLateness) = try await CooperativeLateness.measure {
            try await DiskTransfer(repository: repository, restorePoint: "full", disk: "d0", source: source).run()
        }
        let fullRate = megabytesPerSecond(clock.now - start)
        let sizeAfterFull = try Self.folderSize(repositoryPath)
        start = clock.now
        try await DiskTransfer(
            repository: repository, restorePoint: "incremental", disk: "d0", source: try ImageFileSource(path: second)
        ).run()
        let incrementalRate = megabytesPerSecond(clock.now - start)
        let growth = try Self.folderSize(repositoryPath) - sizeAfterFull
        var trackedRate = 0.0
        if let changedBlocks {
            var tracked = DiskTransfer(
                repository: repository, restorePoint: "tracked", disk: "d0", source: try ImageFileSource(path: second))
            tracked.changedBlocks = (full.manifest, changedBlocks)
            start = clock.now
            try await tracked.run()
            trackedRate = megabytesPerSecond(clock.now - start)
        }
        let restoredPath = work + "/restored.img"
        start = clock.now
        try DiskRestore.restore(
            try repository.manifest(restorePoint: "incremental", disk: "d0"), from: repository, to: restoredPath, overwrite: true)
        let restoreRate = megabytesPerSecond(clock.now - start)
        guard try Self.sameContent(restoredPath, second) else {
            throw ValidationError("the restored image differs from the one backed up: the bench found a defect")
        }
        try? FileManager.default.removeItem(atPath: restoredPath)
        let peakMemory = Self.peakMemoryMegabytes()

        // Peers, on the same files.
        let restic = try PeerBench.restic(first: first, second: second, work: work)
        let borg = try PeerBench.borg(first: first, second: second, work: work)

        // The full backup twice more, each beside restic's: single runs on one machine vary
        // with its disk's flush latency, so the ratio is shown run by run.
        var fullRuns = [(tidemark: fullRate, restic: restic?.fullRate ?? 0)]
        for run in 2...Self.fullRuns {
            let path = work + "/tidemark-repo-\(run)"
            try? FileManager.default.removeItem(atPath: path)
            defer { try? FileManager.default.removeItem(atPath: path) }
            let fresh = try BackupRepository.create(at: URL(fileURLWithPath: path))
            start = clock.now
            try await DiskTransfer(repository: fresh, restorePoint: "full", disk: "d0", source: try ImageFileSource(path: first)).run()
            fullRuns.append((megabytesPerSecond(clock.now - start), try PeerBench.resticFullRate(first: first, work: work) ?? 0))
        }

        var cases = fullRuns.enumerated().map { index, run in
            BenchCase(
                name: index == 0 ? "full backup" : "full backup, run \(index + 1)", value: run.tidemark, unit: "MB/s", reference: run.restic
            )
        }
        cases += [
            BenchCase(name: "incremental, reading everything", value: incrementalRate, unit: "MB/s", reference: restic?.secondRate ?? 0)
        ]
        if changedBlocks != nil {
            cases.append(
                BenchCase(name: "incremental, changed blocks only", value: trackedRate, unit: "MB/s", reference: restic?.secondRate ?? 0))
        }
        cases += [
            BenchCase(name: "restore", value: restoreRate, unit: "MB/s", reference: restic?.restoreRate ?? 0),
            BenchCase(
                name: "repository after full", value: Double(sizeAfterFull) / 1e6, unit: "MB",
                reference: Double(restic?.sizeAfterFull ?? 0) / 1e6),
            BenchCase(
                name: "repository growth, incremental", value: Double(growth) / 1e6, unit: "MB",
                reference: Double(restic?.growth ?? 0) / 1e6),
            BenchCase(name: "peak memory (tidemark)", value: peakMemory, unit: "MiB", reference: 256),
            BenchCase(
                name: "cooperative timer lateness p99, during the full backup",
                value: CooperativeLateness.quantile(0.99, of: backupLateness),
                unit: "ms", reference: CooperativeLateness.quantile(0.99, of: idleLateness)),
            BenchCase(
                name: "cooperative timer lateness max, during the full backup", value: backupLateness.max() ?? 0, unit: "ms",
                reference: idleLateness.max() ?? 0),
        ]
        var notes = [
            "disk: \(String(format: "%.0f", Double(diskSize) / 1e6)) MB\(changedBlocks.map { ", \($0.count) of \(DiskManifest.blockCount(diskSize: diskSize, blockSize: .default)) 1 MiB blocks changed" } ?? ""); tidemark: 1 MiB blocks, zstd 3, SHA-256",
            restic == nil
                ? "reference: restic is not installed (Tools/bench-peers installs it); reference figures are 0"
                : "reference: restic \(restic!.version) on the same files in this run (the full backup \(Self.fullRuns) times, each beside one of restic's); peak memory's reference is the 256 MiB target",
            "timer lateness: a 5 ms timer on the cooperative pool during the first full backup; reference: the same timer with nothing running, for 2 s before it",
        ]
        if let borg {
            notes.append(
                String(
                    format: "borg %@ (zstd 3): full %.0f MB/s, second %.0f MB/s, repository %.0f MB after the full, +%.0f MB", borg.version,
                    borg.fullRate, borg.secondRate, Double(borg.sizeAfterFull) / 1e6, Double(borg.growth) / 1e6))
        }
        BenchReport.print(cases, json: json, notes: notes)
    }

    /// How many times the full backup runs (each beside a restic full backup).
    static let fullRuns = 3

    static func folderSize(_ path: String) throws -> Int64 {
        var total: Int64 = 0
        guard let walker = FileManager.default.enumerator(atPath: path) else { return 0 }
        while let name = walker.nextObject() as? String {
            let attributes = try FileManager.default.attributesOfItem(atPath: path + "/" + name)
            if attributes[.type] as? FileAttributeType == .typeRegular { total += (attributes[.size] as? Int64) ?? 0 }
        }
        return total
    }

    static func sameContent(_ a: String, _ b: String) throws -> Bool {
        let first = try FileHandle(forReadingFrom: URL(fileURLWithPath: a))
        let second = try FileHandle(forReadingFrom: URL(fileURLWithPath: b))
        defer {
            try? first.close()
            try? second.close()
        }
        while true {
            let x = try first.read(upToCount: 8 << 20) ?? Data()
            let y = try second.read(upToCount: 8 << 20) ?? Data()
            if x != y { return false }
            if x.isEmpty { return true }
        }
    }

    static func peakMemoryMegabytes() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }
}
