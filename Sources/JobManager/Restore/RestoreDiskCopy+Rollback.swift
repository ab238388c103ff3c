import Foundation
import Infrastructure
import Repository
import WorkflowEvents

extension RestoreDiskCopy {
    /// Quick rollback over a disk that holds data: in each window, the blocks that may differ
    /// (those in `areas`, or all) are read from the target and named as the repository names
    /// blocks; only those whose name is not the restore point's are loaded and written (a zero
    /// block as zeros). Identical blocks count as skipped: the figures say how little was written.
    func rollback(
        from: RestoreEvent.DiskProgress?, checkpoint: @Sendable (RestoreEvent.DiskProgress) async throws -> Void
    ) async throws -> (RestoreEvent.DiskProgress, Busy) {
        let blockBytes = Int64(manifest.blockSize.bytes)
        let windowBlocks = max(1, Int(min(64 << 20, checkpointBytes) / blockBytes))
        var progress =
            (sink.resumable ? from : nil)
            ?? RestoreEvent.DiskProgress(taskId: taskID, offset: 0, readBytes: 0, writtenBytes: 0, skippedBytes: 0)
        var busy = Busy()
        var first = Int(progress.offset / blockBytes)
        let count = manifest.blocks.count
        var lastCheckpoint = ContinuousClock.now
        var sinceCheckpoint: Int64 = 0
        while first < count {
            try Task.checkCancellation()
            let range = first..<min(count, first + windowBlocks)
            var differing: [Int] = []
            let comparing = ContinuousClock.now
            for index in range {
                let offset = Int64(index) * blockBytes
                let length = Int64(manifest.length(ofBlock: index))
                if let areas, !areas.contains(where: { $0.offset < offset + length && offset < $0.offset + $0.length }) {
                    progress.skippedBytes += length
                    continue
                }
                if let current = try await sink.read(at: offset, count: Int(length)),
                    try current.withUnsafeBytes({ bytes throws(RepositoryError) in try repository.chunks.identify(bytes) })
                        == manifest.blocks[index]
                {
                    progress.skippedBytes += length
                    continue
                }
                differing.append(index)
            }
            busy.target += Self.seconds(ContinuousClock.now - comparing)
            let (blocks, loadSeconds) = try await loadBlocks(differing)
            busy.source += loadSeconds
            let writing = ContinuousClock.now
            for (index, block) in zip(differing, blocks) {
                let offset = Int64(index) * blockBytes
                let length = Int64(manifest.length(ofBlock: index))
                if let block {
                    try await sink.write(at: offset, block)
                    progress.readBytes += length
                } else {
                    try await sink.zeros(at: offset, length: length)
                }
                progress.writtenBytes += length
            }
            busy.target += Self.seconds(ContinuousClock.now - writing)
            progress.offset = min(manifest.diskSize, Int64(range.upperBound) * blockBytes)
            sinceCheckpoint += Int64(range.count) * blockBytes
            first = range.upperBound
            if first < count && (ContinuousClock.now - lastCheckpoint >= checkpointInterval || sinceCheckpoint >= checkpointBytes) {
                try await sink.flush()
                try await checkpoint(progress)
                lastCheckpoint = ContinuousClock.now
                sinceCheckpoint = 0
            }
        }
        try await sink.finish()
        progress.offset = manifest.diskSize
        return (progress, busy)
    }
}
