import ArgumentParser
import BlockingIO
import CommandLineSupport
import Foundation
import Logging
import RemoteRepository
import Repository
import RepositoryService
import ServerTLS

/// `tidemark bench repository-service`: the hardened repository service's "which of these
/// chunks do you hold" over HTTPS on loopback, the call every backup and copy to the service
/// makes (the issue's target: 50,000 names a second or more; reference: the same check in
/// process, the service's own `missing`, no TLS, signing or JSON, on the same chunks in the
/// same run); and a disk backed up to the service beside the same backup to a folder on this
/// host (target: 0.8× or more; `BenchServiceBackup`).
struct BenchRepositoryServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repository-service",
        abstract:
            "Chunk names checked per second by a repository service over HTTPS, and a backup to it, beside the same work in process and to a folder."
    )

    @Option(help: "Chunk names asked about; half of them are held.") var names = 100_000
    @Option(help: "Times each side asks; the best run counts.") var runs = 3
    @Option(help: "Size of the disk image backed up, such as 1G or 512M.") var diskSize: String = "1G"
    @Option(help: "A scratch folder (made, and removed after).") var folder: String?
    @Flag(help: "Print {\"cases\":[...]} instead of a table.") var json = false

    func validate() throws {
        guard (1_000...2_000_000).contains(names) else { throw ValidationError("--names must be between 1000 and 2000000, not \(names)") }
        guard (1...20).contains(runs) else { throw ValidationError("--runs must be between 1 and 20, not \(runs)") }
        _ = try parsedDiskSize()
    }

    private func parsedDiskSize() throws -> Int64 {
        try CommandLineSupport.parseSize(diskSize, option: "--disk-size", range: (Int64(64) << 20)...(Int64(64) << 30))
    }

    func run() async throws {
        let scratch = URL(fileURLWithPath: folder ?? NSTemporaryDirectory()).appendingPathComponent(
            "tidemark-bench-service-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let root = scratch.appendingPathComponent("service")
        let (service, token, held, all) = try await BlockingIOPool.shared.run { () throws -> (HardenedRepository, String, Int, [ChunkID]) in
            let service = try HardenedRepository(root: root, immutableDays: 0)
            let token = try service.issueToken(label: "bench")
            // Distinct 4 KiB blocks: the first half stored in the service's folder as a backup
            // would have sent them, the second half only named.
            var all: [ChunkID] = []
            var block = [UInt8](repeating: 0x5A, count: 4_096)
            for index in 0..<names {
                withUnsafeBytes(of: UInt64(index + 1).littleEndian) { block.replaceSubrange(0..<8, with: $0) }
                try block.withUnsafeBytes { bytes in
                    if index < names / 2 {
                        if let chunk = try service.repository.chunks.store(bytes).chunk { all.append(chunk) }
                    } else if let chunk = try service.repository.chunks.identify(bytes) {
                        all.append(chunk)
                    }
                }
            }
            return (service, token, names / 2, all)
        }
        let tls = try TLSIdentity.load(certificate: nil, key: nil, folder: root.appendingPathComponent("service/tls"), name: "repository")
        var logger = Logger(label: "tidemark.bench")
        // The server's cancellation at the end logs an error of its own; nothing else is of use here.
        logger.logLevel = .critical
        let (listening, announce) = AsyncStream<String>.makeStream()
        let application = try RepositoryServer.make(
            repository: service, host: "127.0.0.1", port: 0, tls: tls, logger: logger, onListening: { announce.yield($0) })
        let server = Task { try await application.runService() }
        var next = listening.makeAsyncIterator()
        guard let url = await next.next() else { throw ValidationError("the repository service did not start") }
        let client = try RepositoryServiceClient(url: url, token: token, thumbprint: tls.thumbprint)

        let clock = ContinuousClock()
        var remote: [Double] = []
        var local: [Double] = []
        let hex = all.map(\.hex)
        for _ in 0..<runs {
            let start = clock.now
            let missing = try await client.run { client throws(RemoteRepositoryError) in try client.missing(all) }
            remote.append(Double(all.count) / (clock.now - start).seconds)
            guard missing.count == all.count - held else {
                throw ValidationError("the service said \(missing.count) of \(all.count) are missing, not \(all.count - held)")
            }
            let localStart = clock.now
            let locallyMissing = try await BlockingIOPool.shared.run { () throws(RepositoryServiceError) in try service.missing(hex) }
            local.append(Double(all.count) / (clock.now - localStart).seconds)
            guard locallyMissing.count == all.count - held else { throw ValidationError("the local check disagrees") }
        }
        let backup = try await BenchServiceBackup.measure(
            size: try parsedDiskSize(), scratch: scratch, url: url, token: token, thumbprint: tls.thumbprint)
        server.cancel()
        _ = await server.result
        BenchReport.print(
            [
                BenchCase(
                    name: "chunk names checked over HTTPS (best of \(runs))", value: remote.max() ?? 0, unit: "names/s",
                    reference: local.max() ?? 0),
                BenchCase(
                    name: "full backup of a \(diskSize) disk to the service", value: backup.remote, unit: "MB/s", reference: backup.local),
            ], json: json,
            notes: [
                "\(all.count) names (\(held) held, 4 KiB chunks) asked in requests of 50,000 through the service's signed HTTPS protocol on loopback; target: 50,000 names/s or more",
                "reference: the service's own check of the same names in this process (no TLS, signature or JSON)",
                String(
                    format:
                        "backup: a generated image (40%% zeros, 30%% compressible, 30%% random) to the service in this process over HTTPS on loopback (%.1f MB sent), reference the same backup to a folder; ratio %.2f (target 0.8 or more)",
                    Double(backup.sent) / 1e6, backup.remote / max(backup.local, 1e-9)),
            ])
    }
}
