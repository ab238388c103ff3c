import BlockingIO
import DataMover
import Foundation
import Infrastructure
import Repository
import Synchronization
import WorkflowEvents

/// One disk of a restore point copied into a `BlockSink`, in windows of blocks: a window's
/// blocks are loaded (read, decrypted, decompressed, re-hashed) on all cores off the
/// cooperative pool while the window before is written in order, and after a window, at most
/// every checkpoint interval or bytes, the sink is flushed and the progress recorded, so a
/// resumed restore continues from there.
struct RestoreDiskCopy: Sendable {
    let manifest: DiskManifest
    let repository: any RepositoryStore
    let sink: any BlockSink
    let taskID: String
    let checkpointInterval: Duration
    let checkpointBytes: Int64
    /// Read the target first and write only blocks that differ (quick rollback).
    let compare: Bool
    /// With `compare`: only blocks in these areas can differ (written since the restore point,
    /// by changed block tracking); the rest are identical without being read. Nil: all may.
    var areas: [DiskArea]? = nil
    /// The throttling rule's bucket this restore's share is taken from: every block read from
    /// the repository waits for its bytes (zeros, which are not stored, do not).
    var throttle: TokenBucket? = nil

    /// Busy seconds of each side in this run, for the bottleneck.
    struct Busy: Sendable {
        var source: Double = 0
        var target: Double = 0
        /// Wall seconds times the disks copied at once: what the busy seconds are a share of.
        var parallelSeconds: Double = 0
    }

    /// Copies from `from`'s offset (nil: the start) to the end; `checkpoint` records progress.
    func run(
        from: RestoreEvent.DiskProgress?, checkpoint: @Sendable (RestoreEvent.DiskProgress) async throws -> Void
    ) async throws -> (RestoreEvent.DiskProgress, Busy) {
        if compare { return try await rollback(from: from, checkpoint: checkpoint) }
        let blockBytes = Int64(manifest.blockSize.bytes)
        let windowBlocks = self.windowBlocks
        // A sink that cannot continue (an upload) starts over, its figures with it.
        var progress =
            (sink.resumable ? from : nil)
            ?? RestoreEvent.DiskProgress(taskId: taskID, offset: 0, readBytes: 0, writtenBytes: 0, skippedBytes: 0)
        var busy = Busy()
        var first = Int(progress.offset / blockBytes)
        let count = manifest.blocks.count
        var lastCheckpoint = ContinuousClock.now
        var sinceCheckpoint: Int64 = 0
        var next: Task<([[UInt8]?], Double), any Error>? = first < count ? load(first..<min(count, first + windowBlocks)) : nil
        while let loading = next {
            if Task.isCancelled {
                loading.cancel()
                throw CancellationError()
            }
            let range = first..<min(count, first + windowBlocks)
            let (blocks, loadSeconds) = try await loading.value
            busy.source += loadSeconds
            let following = range.upperBound
            next = following < count ? load(following..<min(count, following + windowBlocks)) : nil
            let started = ContinuousClock.now
            if sink is any DirectBlockSink {
                // Written where they were loaded: only the figures are left to count.
                for (position, block) in blocks.enumerated() {
                    let length = Int64(manifest.length(ofBlock: range.lowerBound + position))
                    if block == nil {
                        progress.skippedBytes += length
                    } else {
                        progress.readBytes += length
                        progress.writtenBytes += length
                    }
                }
            } else {
                do {
                    try await write(blocks, startingAt: range.lowerBound, into: &progress)
                } catch {
                    next?.cancel()
                    throw error
                }
            }
            busy.target += Self.seconds(ContinuousClock.now - started)
            progress.offset = min(manifest.diskSize, Int64(range.upperBound) * blockBytes)
            sinceCheckpoint += Int64(range.count) * blockBytes
            first = following
            // A sink that cannot continue (an upload) holds nothing until its end: no checkpoint
            // may claim otherwise.
            if sink.resumable && following < count
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

    /// Blocks per window: 64 MiB, fewer when checkpoints are asked more often than that, and
    /// under a throttle a quarter of a second's worth, so the rate holds smoothly.
    var windowBlocks: Int {
        let blockBytes = Int64(manifest.blockSize.bytes)
        var bytes = min(64 << 20, checkpointBytes)
        if let throttle { bytes = min(bytes, max(blockBytes, Int64(throttle.bytesPerSecond / 4))) }
        return max(1, Int(bytes / blockBytes))
    }

    /// Writes a window in order: data blocks, runs of zero blocks as one range.
    private func write(_ blocks: [[UInt8]?], startingAt first: Int, into progress: inout RestoreEvent.DiskProgress) async throws {
        let blockBytes = Int64(manifest.blockSize.bytes)
        var zeroStart: Int64?
        var zeroLength: Int64 = 0
        func flushZeros() async throws {
            if let start = zeroStart, zeroLength > 0 { try await sink.zeros(at: start, length: zeroLength) }
            zeroStart = nil
            zeroLength = 0
        }
        for (position, block) in blocks.enumerated() {
            let index = first + position
            let offset = Int64(index) * blockBytes
            let length = Int64(manifest.length(ofBlock: index))
            guard let block else {
                if zeroStart == nil { zeroStart = offset }
                zeroLength += length
                progress.skippedBytes += length
                continue
            }
            try await flushZeros()
            try await sink.write(at: offset, block)
            progress.readBytes += length
            progress.writtenBytes += length
        }
        try await flushZeros()
    }

    /// Loads a window's blocks off the cooperative pool, all cores at once; into a direct sink,
    /// each is written by the thread that loaded it (then only empty stand-ins come back: an
    /// empty array for a block written, nil for zeros).
    private func load(_ range: Range<Int>) -> Task<([[UInt8]?], Double), any Error> {
        let blockBytes = Int64(manifest.blockSize.bytes)
        let start = Int64(range.lowerBound) * blockBytes
        let window = DiskArea(offset: start, length: min(manifest.diskSize, Int64(range.upperBound) * blockBytes) - start)
        return load(Array(range), writingTo: sink as? any DirectBlockSink, announcing: [window])
    }

    /// The blocks `indexes`, loaded now.
    func loadBlocks(_ indexes: [Int]) async throws -> ([[UInt8]?], Double) {
        guard !indexes.isEmpty else { return ([], 0) }
        return try await load(indexes, writingTo: nil).value
    }

    /// Loads the blocks `indexes` (in that order) off the cooperative pool, all cores at once.
    /// `announcing`: the areas the sink is told of before anything is written (`willWrite`).
    private func load(
        _ indexes: [Int], writingTo direct: (any DirectBlockSink)?, announcing areas: [DiskArea] = []
    ) -> Task<([[UInt8]?], Double), any Error> {
        let manifest = manifest
        let repository = repository
        let throttle = throttle
        let sink = sink
        return Task {
            if !areas.isEmpty { try await sink.willWrite(areas) }
            if let throttle {
                var stored = 0
                for index in indexes where manifest.blocks[index] != nil { stored += manifest.length(ofBlock: index) }
                try await throttle.take(stored)
            }
            return try await BlockingIOPool.shared.run { () throws(RepositoryError) -> ([[UInt8]?], Double) in
                let started = ContinuousClock.now
                let results = Mutex<[Int: Result<[UInt8]?, RepositoryError>]>([:])
                DispatchQueue.concurrentPerform(iterations: indexes.count) { position in
                    let index = indexes[position]
                    let result: Result<[UInt8]?, RepositoryError>
                    do throws(RepositoryError) {
                        let block = try DiskRestore.block(index, of: manifest, from: repository)
                        if let direct {
                            let offset = Int64(index) * Int64(manifest.blockSize.bytes)
                            do {
                                if let block {
                                    try block.withUnsafeBytes { try direct.writeBlocking(at: offset, $0) }
                                } else {
                                    try direct.zerosBlocking(at: offset, length: Int64(manifest.length(ofBlock: index)))
                                }
                            } catch let error as RepositoryError {
                                throw error
                            } catch {
                                throw RepositoryError(.io, "\(error)")
                            }
                            result = .success(block == nil ? nil : [])
                        } else {
                            result = .success(block)
                        }
                    } catch {
                        result = .failure(error)
                    }
                    results.withLock { $0[index] = result }
                }
                let loaded = results.withLock { $0 }
                var blocks: [[UInt8]?] = []
                blocks.reserveCapacity(indexes.count)
                for index in indexes {
                    switch loaded[index] {
                    case .success(let block)?: blocks.append(block)
                    case .failure(let error)?: throw error
                    case nil: throw RepositoryError(.io, "block \(index) of \(manifest.disk) was not loaded")
                    }
                }
                return (blocks, Self.seconds(ContinuousClock.now - started))
            }
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
