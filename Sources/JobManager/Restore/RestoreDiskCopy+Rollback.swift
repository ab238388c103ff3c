import BlockingIO
import DataMover
import Foundation
import Infrastructure
import Repository
import Synchronization
import WorkflowEvents

extension RestoreDiskCopy {
    /// What one window of a rollback did.
    struct WindowFigures: Sendable {
        var read: Int64 = 0
        var written: Int64 = 0
        var skipped: Int64 = 0
        /// Blocks loaded from the repository (what checkpoints are counted in).
        var loaded = 0
        var source: Double = 0
        var target: Double = 0
    }

    /// Quick rollback over a disk that holds data. With `areas` (what changed since the point),
    /// the blocks they touch are loaded and only their changed ranges written back, each range
    /// compared first and left alone when it holds the point's bytes already; without, every
    /// block is read from the target and named as the repository names blocks, and only those
    /// whose name is not the restore point's are loaded and written (a zero block as zeros).
    /// The rest count as skipped: the figures say how little was written. Into a sink written
    /// from the loading threads (a file, a lab disk) a window's blocks are compared and written
    /// on all cores at once; otherwise in order through the sink's calls.
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
        if let changed {
            // What may be written is known up front: announced once, not window by window.
            try await sink.willWrite(
                changed.parts(of: progress.offset..<manifest.diskSize).map { DiskArea(offset: $0.start, length: $0.end - $0.start) })
        }
        while first < count {
            try Task.checkCancellation()
            let range = first..<min(count, first + windowBlocks)
            let figures =
                if let direct = sink as? any DirectBlockSink {
                    try await rollbackDirect(range, into: direct, changed: changed)
                } else {
                    try await rollbackInOrder(range, changed: changed)
                }
            progress.readBytes += figures.read
            progress.writtenBytes += figures.written
            progress.skippedBytes += figures.skipped
            busy.source += figures.source
            busy.target += figures.target
            progress.offset = min(manifest.diskSize, Int64(range.upperBound) * blockBytes)
            // Counted in bytes read and written, not scanned: a rollback that skips most of the
            // disk goes through it without a checkpoint per window (a resume scans it again).
            sinceCheckpoint += Int64(figures.loaded) * blockBytes
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

    /// The bytes of a block, its offset and length.
    private func span(_ index: Int) -> Range<Int64> {
        let offset = Int64(index) * Int64(manifest.blockSize.bytes)
        return offset..<(offset + Int64(manifest.length(ofBlock: index)))
    }

    /// The parts of a block that may differ: the whole block without change tracking.
    private static func parts(_ block: Range<Int64>, _ changed: ChangedAreas?) -> [(start: Int64, end: Int64)] {
        changed?.parts(of: block) ?? [(block.lowerBound, block.upperBound)]
    }

    /// Tells the sink what may be written, before anything lands: without change tracking the
    /// blocks found to differ (with it, `rollback` announced every changed area at the start).
    private func announce(_ indexes: [Int], changed: ChangedAreas?) async throws {
        guard changed == nil else { return }
        try await sink.willWrite(indexes.map { DiskArea(offset: span($0).lowerBound, length: Int64(manifest.length(ofBlock: $0))) })
    }

    /// One window in order, through the sink's async calls.
    private func rollbackInOrder(_ range: Range<Int>, changed: ChangedAreas?) async throws -> WindowFigures {
        var figures = WindowFigures()
        var differing: [Int] = []
        let comparing = ContinuousClock.now
        for index in range {
            let span = span(index)
            let length = span.upperBound - span.lowerBound
            if changed != nil, Self.parts(span, changed).isEmpty {
                figures.skipped += length
                continue
            }
            // Blocks in the areas changed since the point differ: rewritten without reading them
            // first. Without areas every block is read and compared.
            if changed == nil, let current = try await sink.read(at: span.lowerBound, count: Int(length)),
                manifest.blocks[index] == nil
                    ? current.allSatisfy({ $0 == 0 })
                    : try current.withUnsafeBytes({ bytes throws(RepositoryError) in try repository.chunks.identify(bytes) })
                        == manifest.blocks[index]
            {
                figures.skipped += length
                continue
            }
            differing.append(index)
        }
        figures.target += Self.seconds(ContinuousClock.now - comparing)
        let (blocks, loadSeconds) = try await loadBlocks(differing)
        figures.source += loadSeconds
        figures.loaded = differing.count
        let writing = ContinuousClock.now
        try await announce(differing, changed: changed)
        for (index, block) in zip(differing, blocks) {
            let span = span(index)
            let offset = span.lowerBound
            if block != nil { figures.read += span.upperBound - offset }
            // Outside the areas written since the point the target still holds the point's
            // bytes: only the changed ranges of the block are written back. A range that holds
            // the point's bytes already (written back by an earlier rollback, or changed and
            // changed back) is compared and left alone.
            let blockParts = Self.parts(span, changed)
            for (start, end) in blockParts {
                let wanted =
                    block.map { Array($0[Int(start - offset)..<Int(end - offset)]) } ?? [UInt8](repeating: 0, count: Int(end - start))
                if changed != nil, let current = try await sink.read(at: start, count: Int(end - start)), current == wanted {
                    figures.skipped += end - start
                    continue
                }
                if block != nil {
                    try await sink.write(at: start, wanted)
                } else {
                    try await sink.zeros(at: start, length: end - start)
                }
                figures.written += end - start
            }
            figures.skipped += (span.upperBound - offset) - blockParts.reduce(0) { $0 + $1.end - $1.start }
        }
        figures.target += Self.seconds(ContinuousClock.now - writing)
        return figures
    }

    /// One window from the blocking pool's threads, all cores at once: without change tracking
    /// every block is read back and named first (in parallel), then the blocks that may differ
    /// are announced, loaded, compared part by part and written where they differ — each by
    /// the thread that loaded it. Busy seconds are the threads' summed time over the cores.
    private func rollbackDirect(
        _ range: Range<Int>, into direct: any DirectBlockSink, changed: ChangedAreas?
    ) async throws
        -> WindowFigures
    {
        var figures = WindowFigures()
        let manifest = manifest
        let repository = repository
        let cores = Double(max(1, ProcessInfo.processInfo.activeProcessorCount))
        var candidates: [Int] = []
        if changed != nil {
            for index in range {
                if Self.parts(span(index), changed).isEmpty {
                    figures.skipped += Int64(manifest.length(ofBlock: index))
                } else {
                    candidates.append(index)
                }
            }
        } else {
            let indexes = Array(range)
            let started = ContinuousClock.now
            let same = try await BlockingIOPool.shared.run { () throws -> [Bool] in
                try Self.parallel(indexes) { index throws -> Bool in
                    let length = manifest.length(ofBlock: index)
                    var current = [UInt8](repeating: 0, count: length)
                    let offset = Int64(index) * Int64(manifest.blockSize.bytes)
                    guard try current.withUnsafeMutableBytes({ try direct.readBlocking(at: offset, into: $0) }) else { return false }
                    guard let name = manifest.blocks[index] else { return current.allSatisfy { $0 == 0 } }
                    return try current.withUnsafeBytes { bytes throws(RepositoryError) in try repository.chunks.identify(bytes) } == name
                }
            }
            figures.target += Self.seconds(ContinuousClock.now - started)
            for (index, identical) in zip(indexes, same) {
                if identical { figures.skipped += Int64(manifest.length(ofBlock: index)) } else { candidates.append(index) }
            }
        }
        guard !candidates.isEmpty else { return figures }
        try await announce(candidates, changed: changed)
        if let throttle {
            var stored = 0
            for index in candidates where manifest.blocks[index] != nil { stored += manifest.length(ofBlock: index) }
            try await throttle.take(stored)
        }
        let compareParts = changed != nil
        let toLoad = candidates
        let results = try await BlockingIOPool.shared.run { () throws -> [WindowFigures] in
            try Self.parallel(toLoad) { index throws -> WindowFigures in
                var result = WindowFigures(loaded: 1)
                let loading = ContinuousClock.now
                let block = try DiskRestore.block(index, of: manifest, from: repository)
                result.source = Self.seconds(ContinuousClock.now - loading) / cores
                let writing = ContinuousClock.now
                let offset = Int64(index) * Int64(manifest.blockSize.bytes)
                let length = Int64(manifest.length(ofBlock: index))
                if block != nil { result.read = length }
                let blockParts = Self.parts(offset..<(offset + length), changed)
                var current = [UInt8]()
                for (start, end) in blockParts {
                    let partLength = Int(end - start)
                    let from = Int(start - offset)
                    if compareParts {
                        current = [UInt8](repeating: 0, count: partLength)
                        let readable = try current.withUnsafeMutableBytes { try direct.readBlocking(at: start, into: $0) }
                        let same =
                            readable
                            && (block.map { current[...] == $0[from..<(from + partLength)] } ?? current.allSatisfy { $0 == 0 })
                        if same {
                            result.skipped += end - start
                            continue
                        }
                    }
                    if let block {
                        try block.withUnsafeBytes { bytes in
                            try direct.writeBlocking(at: start, UnsafeRawBufferPointer(rebasing: bytes[from..<(from + partLength)]))
                        }
                    } else {
                        try direct.zerosBlocking(at: start, length: end - start)
                    }
                    result.written += end - start
                }
                result.skipped += length - blockParts.reduce(0) { $0 + $1.end - $1.start }
                result.target = Self.seconds(ContinuousClock.now - writing) / cores
                return result
            }
        }
        for result in results {
            figures.read += result.read
            figures.written += result.written
            figures.skipped += result.skipped
            figures.loaded += result.loaded
            figures.source += result.source
            figures.target += result.target
        }
        return figures
    }

    /// `work` on every element, on all cores at once (called on a blocking thread); the
    /// results in order, or the first error.
    static func parallel<Result: Sendable>(_ elements: [Int], _ work: @Sendable (Int) throws -> Result) throws -> [Result] {
        let results = Mutex<[Int: Swift.Result<Result, any Error>]>([:])
        DispatchQueue.concurrentPerform(iterations: elements.count) { position in
            let outcome = Swift.Result { try work(elements[position]) }
            results.withLock { $0[position] = outcome }
        }
        let collected = results.withLock { $0 }
        return try elements.indices.map { position in
            guard let outcome = collected[position] else { throw RepositoryError(.io, "block \(elements[position]) was not processed") }
            return try outcome.get()
        }
    }
}
