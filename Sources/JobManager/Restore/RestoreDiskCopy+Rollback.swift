import Foundation
import Infrastructure
import Repository
import WorkflowEvents

extension RestoreDiskCopy {
    /// Quick rollback over a disk that holds data. With `areas` (what changed since the point),
    /// the blocks they touch are loaded and only their changed ranges written back; without,
    /// every block is read from the target and named as the repository names blocks, and only
    /// those whose name is not the restore point's are loaded and written (a zero block as
    /// zeros). The rest count as skipped: the figures say how little was written.
    func rollback(
        from: RestoreEvent.DiskProgress?, checkpoint: @Sendable (RestoreEvent.DiskProgress) async throws -> Void
    ) async throws -> (RestoreEvent.DiskProgress, Busy) {
        let blockBytes = Int64(manifest.blockSize.bytes)
        let windowBlocks = self.windowBlocks
        var progress =
            (sink.resumable ? from : nil)
            ?? RestoreEvent.DiskProgress(taskId: taskID, offset: 0, readBytes: 0, writtenBytes: 0, skippedBytes: 0)
        var busy = Busy()
        var first = Int(progress.offset / blockBytes)
        let count = manifest.blocks.count
        var lastCheckpoint = ContinuousClock.now
        var sinceCheckpoint: Int64 = 0
        let changed = areas.map(ChangedAreas.init)
        /// The parts of a block that may differ: the whole block without change tracking.
        func parts(_ block: Range<Int64>) -> [(start: Int64, end: Int64)] {
            changed?.parts(of: block) ?? [(block.lowerBound, block.upperBound)]
        }
        while first < count {
            try Task.checkCancellation()
            let range = first..<min(count, first + windowBlocks)
            var differing: [Int] = []
            let comparing = ContinuousClock.now
            for index in range {
                let offset = Int64(index) * blockBytes
                let length = Int64(manifest.length(ofBlock: index))
                if changed != nil, parts(offset..<(offset + length)).isEmpty {
                    progress.skippedBytes += length
                    continue
                }
                // Blocks in the areas changed since the point differ: rewritten without reading them
                // first. Without areas every block is read and compared.
                if changed == nil, let current = try await sink.read(at: offset, count: Int(length)),
                    manifest.blocks[index] == nil
                        ? current.allSatisfy({ $0 == 0 })
                        : try current.withUnsafeBytes({ bytes throws(RepositoryError) in try repository.chunks.identify(bytes) })
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
            // Told before anything lands, so a target that tracks changes records them all.
            try await sink.willWrite(
                differing.flatMap { index in
                    let offset = Int64(index) * blockBytes
                    return parts(offset..<(offset + Int64(manifest.length(ofBlock: index)))).map {
                        DiskArea(offset: $0.start, length: $0.end - $0.start)
                    }
                })
            for (index, block) in zip(differing, blocks) {
                let offset = Int64(index) * blockBytes
                let length = Int64(manifest.length(ofBlock: index))
                if block != nil { progress.readBytes += length }
                // Outside the areas written since the point the target still holds the point's
                // bytes: only the changed ranges of the block are written back.
                // A range that holds the point's bytes already (written back by an earlier
                // rollback, or changed and changed back) is compared and left alone.
                let blockParts = parts(offset..<(offset + length))
                for (start, end) in blockParts {
                    let wanted =
                        block.map { Array($0[Int(start - offset)..<Int(end - offset)]) } ?? [UInt8](repeating: 0, count: Int(end - start))
                    if changed != nil, let current = try await sink.read(at: start, count: Int(end - start)), current == wanted {
                        progress.skippedBytes += end - start
                        continue
                    }
                    if block != nil {
                        try await sink.write(at: start, wanted)
                    } else {
                        try await sink.zeros(at: start, length: end - start)
                    }
                    progress.writtenBytes += end - start
                }
                progress.skippedBytes += length - blockParts.reduce(0) { $0 + $1.end - $1.start }
            }
            busy.target += Self.seconds(ContinuousClock.now - writing)
            progress.offset = min(manifest.diskSize, Int64(range.upperBound) * blockBytes)
            // Counted in bytes read and written, not scanned: a rollback that skips most of the
            // disk goes through it without a checkpoint per window (a resume scans it again).
            sinceCheckpoint += Int64(differing.count) * blockBytes
            first = range.upperBound
            if sink.resumable && first < count && sinceCheckpoint > 0
                && (ContinuousClock.now - lastCheckpoint >= checkpointInterval || sinceCheckpoint >= checkpointBytes)
            {
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
