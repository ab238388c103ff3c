import BlockingIO
import DataMover
import Foundation
import Infrastructure
import RemoteRepository
import Repository

/// The backup half of `bench repository-service`: one generated disk image backed up whole
/// into a repository folder on this host (the reference), then into the repository service
/// over HTTPS on loopback (`ServiceRepository`: names asked, chunks sent, the manifest sent
/// last), each into an empty repository, in the same run. The target: 0.8× or more.
enum BenchServiceBackup {
    static let clientThreads = BlockingIOPool(name: "tidemark-bench-client", threads: ServiceRepository.blocksInFlight)

    static func measure(
        size: Int64, scratch: URL, url: String, token: String, thumbprint: String
    ) async throws -> (remote: Double, local: Double, sent: Int64) {
        let image = scratch.appendingPathComponent("disk.img").path
        try DiskImageGenerator.generate(at: image, size: size)
        sync()
        let clock = ContinuousClock()
        func rate(_ elapsed: Duration) -> Double { Double(size) / 1e6 / max(elapsed.seconds, 1e-6) }

        let folder = try BackupRepository.create(at: scratch.appendingPathComponent("local"))
        var start = clock.now
        try await DiskTransfer(repository: folder, restorePoint: "local", disk: "d0", source: try ImageFileSource(path: image)).run()
        let local = rate(clock.now - start)

        let service = try ServiceRepository(
            url: url, token: token, thumbprint: thumbprint, staging: scratch.appendingPathComponent("staging"))
        var transfer = DiskTransfer(repository: service, restorePoint: "remote", disk: "d0", source: try ImageFileSource(path: image))
        // The service answers from this process's shared blocking pool: the client's calls,
        // which block while the service works, wait on threads of their own (as they would
        // in a backup server that is another process).
        transfer.io = clientThreads
        transfer.parallelism = ServiceRepository.blocksInFlight
        start = clock.now
        let outcome = try await transfer.run()
        return (rate(clock.now - start), local, outcome.progress.bytesTransferred)
    }
}
