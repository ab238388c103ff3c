import BlockingIO
import DataMover
import Foundation
import Infrastructure
import RemoteRepository
import Repository
import WorkflowEvents

/// Carries out one `TransferOrder`: the per-disk work of a proxy — open the snapshot's disk
/// through the adapter, read, hash, deduplicate, compress, throttle, write, checkpoint — the
/// same code whether the mover is the Job Manager's embedded one or a proxy process on
/// another host. It records nothing: its caller reports each checkpoint and the end.
public enum TransferExecution {
    /// Runs the order under `fenceToken` (the repository refuses this run's progress and
    /// manifest writes once a later holder claimed the disk). `checkpoint` is called after
    /// each saved checkpoint; a throw there stops the transfer (its progress stays).
    public static func run(
        _ order: TransferOrder, adapter: any InfrastructureAdapter, repository: any RepositoryStore, fenceToken: Int64,
        throttle: TokenBucket?, logHead: (@Sendable () async throws -> DiskManifest.LogHead?)?,
        checkpoint: @escaping @Sendable (TransferReport) async throws -> Void
    ) async throws -> TransferReport {
        let source = try await adapter.openDisk(vm: order.vmId, snapshot: order.snapshotId, diskKey: order.diskKey)
        var transfer = DiskTransfer(
            repository: repository, restorePoint: order.restorePointId, disk: order.disk, source: source,
            blockSize: try BlockSize(bytes: order.blockSizeBytes))
        transfer.keepsProgress = true
        transfer.fenceToken = fenceToken
        transfer.logHead = logHead
        transfer.throttle = throttle
        if repository is ServiceRepository {
            // Each block waits a round trip or two on the link: more in flight hide them.
            transfer.io = ServiceRepository.transferThreads
            transfer.parallelism = ServiceRepository.blocksInFlight
        }
        transfer.checkpointBytes = order.checkpointBytes
        transfer.checkpointInterval = .milliseconds(Int64((order.checkpointSeconds * 1000).rounded()))
        if let base = order.base {
            let manifest = await BlockingIOPool.shared.run {
                try? repository.manifest(restorePoint: base.restorePointId, disk: order.disk)
            }
            if let manifest {
                let areas = base.changedAreas.compactMap { pair in pair.count == 2 ? DiskArea(offset: pair[0], length: pair[1]) : nil }
                transfer.changedBlocks = (manifest, DiskTransfer.blocks(touchedBy: areas, blockSize: transfer.blockSize))
            }
        }
        let outcome = try await transfer.run { progress in
            try await checkpoint(
                TransferReport(
                    offset: progress.offset, bytesRead: progress.bytesRead, bytesTransferred: progress.bytesTransferred,
                    newChunks: Int64(progress.newChunks)))
        }
        let times = outcome.stageTimes
        return TransferReport(
            offset: source.size, bytesRead: outcome.progress.bytesRead, bytesTransferred: outcome.progress.bytesTransferred,
            newChunks: Int64(outcome.progress.newChunks),
            busySeconds: .init(source: times.source, proxy: times.proxy, network: times.network, target: times.target),
            wallSeconds: outcome.wallSeconds, parallelism: transfer.parallelism,
            resumedFromOffset: outcome.resumedBlocks > 0
                ? min(source.size, Int64(outcome.resumedBlocks) * Int64(transfer.blockSize.bytes)) : nil)
    }
}
