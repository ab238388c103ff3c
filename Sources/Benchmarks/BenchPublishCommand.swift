import ArgumentParser
import BlockingIO
import Catalog
import CatalogStore
import CommandLineSupport
import EventStore
import Foundation
import Infrastructure
import JobManager
import Logging
import Postgres
import PrivateCluster
import Repository

/// `tidemark bench publish`: instant access beside restores in the same run — `nbdcopy` of a
/// published restore point against `tidemark restore disk` of the same disk to a file, and the
/// latency of random 4 KiB reads over NBD with a warm block cache against `pread` of the
/// restored file from the page cache.
struct BenchPublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publishes over NBD: nbdcopy beside a disk restore to a file, random 4 KiB read latency beside pread.")
    @OptionGroup var options: GlobalOptions
    @Option(help: "The disk's size, in MiB.") var diskMib: Int = 1024
    @Option(help: "Random 4 KiB reads to time.") var reads: Int = 5_000
    @Option(help: "Where the lab, the repository and the files go (a temporary folder under it; default: the system's).")
    var folder: String?
    @Flag(help: "Print {\"cases\":[...]} instead of a table.") var json = false

    func validate() throws {
        guard (64...8_192).contains(diskMib) else { throw ValidationError("--disk-mib must be between 64 and 8192, not \(diskMib)") }
        guard (100...1_000_000).contains(reads) else { throw ValidationError("--reads must be between 100 and 1000000, not \(reads)") }
    }

    func run() async throws {
        guard let nbdcopy = executable(named: "nbdcopy") else {
            throw CommandFailure("nbdcopy is not installed: apt-get install libnbd-bin (Tools/install-dependencies does)")
        }
        var logger = try options.makeLogger()
        logger.logLevel = max(logger.logLevel, .error)
        let catalogDatabase = try CatalogDatabase(options: options, logger: logger)
        let bench = try await BenchDatabase.create(catalog: catalogDatabase, logger: logger)
        let store = EventStore(pool: PostgresPool(.init(settings: bench.service, maximumConnections: 8), logger: logger), logger: logger)
        let folder = URL(fileURLWithPath: self.folder ?? NSTemporaryDirectory()).appendingPathComponent(
            "tidemark-bench-publish-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let reads = self.reads
        try await withClosing(store) { store in
            let size = Int64(diskMib) << 20
            _ = try await BenchLabJob.make(in: folder, diskSize: size, store: store)
            let settings = JobManagerSettings(checkpointBytes: 256 << 20)
            try await BenchLabJob.backUp(JobManager(store: store, settings: settings, logger: logger))
            let metadata = EventMetadata(actor: "bench")

            // Reference: the same disk restored to a file, as a restore session.
            let restores = RestoreManager(store: store, settings: settings, logger: logger)
            let file = folder.appendingPathComponent("restored.img").path
            var started = ContinuousClock.now
            try await BenchRestoreCommand.run(
                restores,
                RestoreOrder(
                    vms: ["lab-vm-01"], point: .latest, destination: .diskFile(disk: "2000", path: file, replace: false), reason: "bench"),
                metadata)
            let restoreRate = Double(size) / (ContinuousClock.now - started).seconds / 1e6

            let publishes = PublishManager(store: store, settings: JobManagerSettings(), logger: logger)
            let address = AsyncStream<String>.makeStream()
            let serving = Task {
                try await publishes.publish(
                    PublishOrder(vm: "lab-vm-01", listen: "127.0.0.1:0", reason: "bench"), metadata: metadata
                ) { _, bound in address.continuation.yield(bound) }
            }
            var iterator = address.stream.makeAsyncIterator()
            guard let bound = await iterator.next(), let port = bound.split(separator: ":").last.flatMap({ UInt16($0) }) else {
                serving.cancel()
                throw CommandFailure("the publish did not start")
            }
            let copy = folder.appendingPathComponent("nbdcopy.img").path
            started = ContinuousClock.now
            let copied = try await BlockingIOPool.shared.run {
                try ToolRunner(runAsServerAccount: false).run(nbdcopy, ["--flush", "nbd://\(bound)/disk-2000", copy])
            }
            let copyRate = Double(size) / (ContinuousClock.now - started).seconds / 1e6
            guard copied.status == 0 else {
                serving.cancel()
                throw CommandFailure("nbdcopy failed: \(copied.text)")
            }

            // Random 4 KiB reads within the first 32 MiB, once to warm the cache, then timed.
            let span = min(size, 32 << 20) / 4_096
            var generator = SystemRandomNumberGenerator()
            let offsets = (0..<reads).map { _ in UInt64(Int64.random(in: 0..<span, using: &generator) * 4_096) }
            let latencies = try await BlockingIOPool.shared.run { () throws -> [Double] in
                let client = try NBDBenchClient(port: port, export: "disk-2000")
                defer { client.close() }
                for block in stride(from: UInt64(0), to: UInt64(span * 4_096), by: 1 << 20) {
                    _ = try client.timedRead(at: block, length: 4_096, handle: block)
                }
                return try offsets.enumerated().map { try client.timedRead(at: $1, length: 4_096, handle: UInt64($0)) }
            }
            serving.cancel()
            _ = try? await serving.value
            let preadLatencies = try await BlockingIOPool.shared.run { () throws -> [Double] in
                let descriptor = open(file, O_RDONLY)
                guard descriptor >= 0 else { throw CommandFailure("cannot open \(file)") }
                defer { close(descriptor) }
                var buffer = [UInt8](repeating: 0, count: 4_096)
                for offset in offsets { _ = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, 4_096, off_t(offset)) } }
                return offsets.map { offset in
                    let readStarted = ContinuousClock.now
                    _ = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, 4_096, off_t(offset)) }
                    return (ContinuousClock.now - readStarted).seconds
                }
            }
            BenchReport.print(
                [
                    BenchCase(name: "nbdcopy of a published restore point", value: copyRate, unit: "MB/s", reference: restoreRate),
                    BenchCase(
                        name: "random 4 KiB reads over NBD, p99 (warm cache)", value: Self.percentile(latencies, 0.99) * 1e6, unit: "µs",
                        reference: Self.percentile(preadLatencies, 0.99) * 1e6),
                    BenchCase(
                        name: "random 4 KiB reads over NBD, median (warm cache)", value: Self.percentile(latencies, 0.5) * 1e6, unit: "µs",
                        reference: Self.percentile(preadLatencies, 0.5) * 1e6),
                ], json: json,
                notes: [
                    "disk: \(diskMib) MiB generated as the lab generates; 1 MiB blocks; lab, repository and files in \(folder.deletingLastPathComponent().path)",
                    "nbdcopy --flush to a file; reference: tidemark restore disk of the same disk to a file (a restore session: checks, events, fsync)",
                    "\(reads) reads at random 4 KiB offsets in the first 32 MiB, one at a time on one connection, after a pass that loads those blocks; reference: pread of the same offsets from the restored file in the page cache",
                ])
        }
    }

    static func percentile(_ values: [Double], _ fraction: Double) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * fraction).rounded(.up)) - 1)]
    }
}
