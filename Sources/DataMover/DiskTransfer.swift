import BlockingIO
import Foundation
import Infrastructure
import Repository

/// Backs up one disk of a snapshot into a repository: read → zero check → hash → dedup →
/// compress → throttle → write, several blocks at once, with bounded memory.
///
/// At most `parallelism` blocks are in flight (each holds its block and its compressed
/// form). Progress is saved in the repository at checkpoints, every `checkpointInterval` or
/// `checkpointBytes` read, and handed to the caller (a Job Manager records it as an event);
/// a transfer started again for the same restore point and disk continues after the saved
/// blocks. The manifest is written last, after every chunk it names.
public struct DiskTransfer: Sendable {
    public let repository: any RepositoryStore
    public let restorePoint: String
    public let disk: String
    public let source: any BlockSource
    public var blockSize: BlockSize
    /// The same disk's manifest in the previous restore point, and the blocks changed since
    /// (changed-block tracking). Unchanged blocks are taken from it without being read.
    public var changedBlocks: (base: DiskManifest, changed: Set<Int>)?
    /// Blocks in flight at once. Defaults to twice the active processors.
    public var parallelism: Int
    /// Defaults to 5 seconds.
    public var checkpointInterval: Duration
    /// Defaults to 256 MiB read.
    public var checkpointBytes: Int64
    /// Shared with other transfers under the same throttling rule; nil for no limit.
    public var throttle: TokenBucket?
    /// Keep the saved progress (complete) after the manifest is written, until the caller
    /// clears it once it has recorded the transfer's end: a crash between the two then
    /// resumes into the same figures instead of losing them. Defaults to false.
    public var keepsProgress = false
    /// Reads the event log's chain head, recorded in the manifest (`DiskManifest.logHead`) so
    /// that a rewritten log is caught later; nil (the default) records none. A head that
    /// cannot be read leaves the manifest without one rather than failing the backup.
    public var logHead: (@Sendable () async throws -> DiskManifest.LogHead?)?
    /// The fencing token this run holds the disk's progress under (`DiskProgressFence`):
    /// claimed before the saved progress is read, checked by every progress and manifest
    /// write, so a holder that lost the task to a later one cannot write after it. Nil (the
    /// default) writes unfenced, for callers that are the disk's only possible writer.
    public var fenceToken: Int64?
    /// Where the file work runs (chunk writes, progress and manifest saves, the repository's
    /// lock, existence checks): never on the cooperative pool. Defaults to the shared pool.
    public var io: BlockingIOPool = .shared

    public init(
        repository: any RepositoryStore, restorePoint: String, disk: String, source: any BlockSource,
        blockSize: BlockSize = .default
    ) {
        self.repository = repository
        self.restorePoint = restorePoint
        self.disk = disk
        self.source = source
        self.blockSize = blockSize
        self.parallelism = max(2, ProcessInfo.processInfo.activeProcessorCount * 2)
        self.checkpointInterval = .seconds(5)
        self.checkpointBytes = 256 << 20
    }

    public struct Outcome: Sendable {
        public let manifest: DiskManifest
        public let progress: DiskProgress
        public let zeroBlocks: Int
        /// Blocks taken from the base manifest without reading (changed-block tracking).
        public let unchangedBlocks: Int
        /// Blocks done before this run, from saved progress.
        public let resumedBlocks: Int
        /// Blocks read and stored again at the end because the chunk they named had become
        /// unsound meanwhile (quarantined by a health check, gone, torn).
        public let rewrittenBlocks: Int
        public let stageTimes: StageTimes
        public let wallSeconds: Double
    }

    private struct BlockOutcome: Sendable {
        let index: Int
        let chunk: ChunkID?
        let bytesRead: Int
        let bytesWritten: Int
        let unchanged: Bool
        let times: StageTimes
    }

    /// Runs the transfer. `checkpoint` is called after each saved checkpoint; if it throws,
    /// the transfer stops there (the saved progress stays for a resume).
    @discardableResult
    public func run(
        checkpoint: @escaping @Sendable (DiskProgress) async throws -> Void = { _ in }
    ) async throws
        -> Outcome
    {
        let repository = self.repository
        // Held to the end: garbage collection cannot remove a chunk this transfer relies on.
        let fence = fenceToken.map { DiskProgressFence(restorePoint: restorePoint, disk: disk, token: $0) }
        let hold = try await io.run { () throws(RepositoryError) in try repository.beginTransfer(fence: fence) }
        defer { hold.release() }
        let clock = ContinuousClock()
        let started = clock.now
        let diskSize = source.size
        let count = DiskManifest.blockCount(diskSize: diskSize, blockSize: blockSize)
        var progress = try await io.run { try resumedProgress(diskSize: diskSize) }
        let resumed = progress.blocks.count
        let changed = try await io.run { () throws(RepositoryError) in try usableChangedBlocks(diskSize: diskSize) }
        // Statistics of blocks done beyond the saved prefix: they join the progress with
        // their block, so a resume that reads them again does not count them twice.
        var pendingStatistics: [Int: (read: Int64, written: Int64, new: Bool)] = [:]

        var pending: [Int: ChunkID?] = [:]
        // Two blocks of one disk with the same content, in flight together, both write the
        // chunk (harmless: the same bytes, each renamed whole); it counts once.
        var written = Set<ChunkID>()
        var zeroBlocks = progress.blocks.filter { $0 == nil }.count
        var unchangedBlocks = 0
        var times = StageTimes()
        var lastCheckpoint = clock.now
        var readSinceCheckpoint: Int64 = 0

        try await withThrowingTaskGroup(of: BlockOutcome.self) { group in
            var next = resumed
            for _ in 0..<parallelism where next < count {
                let index = next
                group.addTask { try await process(block: index, diskSize: diskSize, changed: changed) }
                next += 1
            }
            while let outcome = try await group.next() {
                try Task.checkCancellation()
                pending[outcome.index] = outcome.chunk
                times.add(outcome.times)
                var isNew = false
                if outcome.bytesWritten > 0, let chunk = outcome.chunk, written.insert(chunk).inserted { isNew = true }
                pendingStatistics[outcome.index] = (Int64(outcome.bytesRead), isNew ? Int64(outcome.bytesWritten) : 0, isNew)
                if outcome.chunk == nil { zeroBlocks += 1 }
                if outcome.unchanged { unchangedBlocks += 1 }
                readSinceCheckpoint += Int64(outcome.bytesRead)
                while let chunk = pending.removeValue(forKey: progress.blocks.count) {
                    if let statistics = pendingStatistics.removeValue(forKey: progress.blocks.count) {
                        progress.bytesRead += statistics.read
                        progress.bytesTransferred += statistics.written
                        if statistics.new { progress.newChunks += 1 }
                    }
                    progress.blocks.append(chunk)
                }
                if next < count {
                    let index = next
                    group.addTask { try await process(block: index, diskSize: diskSize, changed: changed) }
                    next += 1
                }
                if progress.blocks.count < count,
                    clock.now - lastCheckpoint >= checkpointInterval || readSinceCheckpoint >= checkpointBytes
                {
                    let saved = progress
                    try await io.run { () throws(RepositoryError) in try repository.saveProgress(saved, hold: hold) }
                    try await checkpoint(progress)
                    lastCheckpoint = clock.now
                    readSinceCheckpoint = 0
                }
            }
        }

        let rewritten = try await storeUnsoundAgain(&progress, diskSize: diskSize, written: &written)
        let head = try? await logHead?()
        let manifest = try DiskManifest(
            restorePoint: restorePoint, disk: disk, diskSize: diskSize, blockSize: blockSize, blocks: progress.blocks,
            logHead: head ?? nil)
        try await io.run { [keepsProgress, restorePoint, disk, progress] () throws(RepositoryError) in
            try repository.save(manifest, keepingProgress: keepsProgress ? progress : nil, hold: hold)
            if !keepsProgress { repository.clearProgress(restorePoint: restorePoint, disk: disk) }
        }
        return Outcome(
            manifest: manifest, progress: progress, zeroBlocks: zeroBlocks, unchangedBlocks: unchangedBlocks,
            resumedBlocks: resumed, rewrittenBlocks: rewritten, stageTimes: times, wallSeconds: (clock.now - started).seconds)
    }

    /// Saved progress of an interrupted run, checked against this source.
    private func resumedProgress(diskSize: Int64) throws -> DiskProgress {
        let fresh = DiskProgress(
            restorePoint: restorePoint, disk: disk, diskSize: diskSize, blockSize: blockSize, source: source.identity)
        guard let saved = try repository.progress(restorePoint: restorePoint, disk: disk) else { return fresh }
        guard saved.diskSize == diskSize, saved.blockSize == blockSize, saved.source == source.identity else {
            throw RepositoryError(
                .invalidInput,
                "restore point \(restorePoint), disk \(disk) has saved progress for another source (\(saved.source), \(saved.diskSize) bytes in \(saved.blockSize) blocks) than this one (\(source.identity), \(diskSize) bytes in \(blockSize) blocks): a resume must read the same snapshot"
            )
        }
        return saved
    }

    /// The base manifest is used only if it fits this disk and every chunk it names is
    /// still stored: it was read before this transfer took the repository's lock, and a
    /// prune may have run since. Otherwise everything is read (the result is the same).
    private func usableChangedBlocks(diskSize: Int64) throws(RepositoryError) -> (base: DiskManifest, changed: Set<Int>)? {
        guard let changedBlocks, changedBlocks.base.diskSize == diskSize, changedBlocks.base.blockSize == blockSize else {
            return nil
        }
        let named = Set(changedBlocks.base.blocks.compactMap { $0 })
        // Present is enough here: a chunk present but unsound is read again at the end
        // (`storeUnsoundAgain`), one block rather than the whole disk.
        guard try repository.absent(among: named).isEmpty else { return nil }
        return changedBlocks
    }

    /// The last look before the manifest names its chunks: each distinct chunk gets the
    /// cheap soundness check once more, and the blocks of any that fail it are read from the
    /// source and stored again. A block deduplicated early in a long transfer, a chunk taken
    /// from the base manifest or from saved progress, may have been quarantined by a health
    /// check since (it works beside backups, under the shared lock): the manifest must not
    /// name it. Tried a few times, in case a check quarantines again meanwhile.
    private func storeUnsoundAgain(_ progress: inout DiskProgress, diskSize: Int64, written: inout Set<ChunkID>) async throws -> Int {
        var rewritten = 0
        for _ in 0..<3 {
            let unsound = try await io.run { [repository, blocks = progress.blocks] () throws(RepositoryError) in
                try repository.unsound(among: Set(blocks.compactMap { $0 }))
            }
            if unsound.isEmpty { break }
            let indices = progress.blocks.indices.filter { progress.blocks[$0].map(unsound.contains) ?? false }
            var next = 0
            var outcomes: [BlockOutcome] = []
            try await withThrowingTaskGroup(of: BlockOutcome.self) { group in
                while next < min(parallelism, indices.count) {
                    let index = indices[next]
                    group.addTask { try await process(block: index, diskSize: diskSize, changed: nil) }
                    next += 1
                }
                while let outcome = try await group.next() {
                    outcomes.append(outcome)
                    if next < indices.count {
                        let index = indices[next]
                        group.addTask { try await process(block: index, diskSize: diskSize, changed: nil) }
                        next += 1
                    }
                }
            }
            for outcome in outcomes {
                progress.blocks[outcome.index] = outcome.chunk
                progress.bytesRead += Int64(outcome.bytesRead)
                if outcome.bytesWritten > 0, let chunk = outcome.chunk, written.insert(chunk).inserted {
                    progress.bytesTransferred += Int64(outcome.bytesWritten)
                    progress.newChunks += 1
                }
            }
            rewritten += outcomes.count
        }
        return rewritten
    }

    private func process(
        block index: Int, diskSize: Int64, changed: (base: DiskManifest, changed: Set<Int>)?
    )
        async throws -> BlockOutcome
    {
        try Task.checkCancellation()
        if let changed, !changed.changed.contains(index) {
            return BlockOutcome(
                index: index, chunk: changed.base.blocks[index], bytesRead: 0, bytesWritten: 0, unchanged: true,
                times: StageTimes())
        }
        let clock = ContinuousClock()
        var times = StageTimes()
        let offset = Int64(index) * Int64(blockSize.bytes)
        let length = Int(min(Int64(blockSize.bytes), diskSize - offset))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: length, alignment: 16)
        defer { buffer.deallocate() }

        var mark = clock.now
        try await source.read(at: offset, into: buffer)
        times.source = (clock.now - mark).seconds
        mark = clock.now
        // Hashing and compressing stay on the cooperative pool (CPU work, a core each); only
        // the soundness check of an existing chunk (a file open and read) goes to the I/O threads.
        let block = UnsafeRawBufferPointer(buffer)
        let chunks = repository.chunks
        let prepared: ChunkStore.PreparedBlock
        if let id = try chunks.identify(block) {
            let length = block.count
            let sound = try await io.run { () throws(RepositoryError) in try repository.holdsSoundly(id, blockLength: length) }
            prepared = sound ? chunks.alreadyStored(id) : try chunks.encode(block, as: id)
        } else {
            prepared = ChunkStore.PreparedBlock.zero
        }
        times.proxy = (clock.now - mark).seconds
        if let throttle, prepared.bytesToWrite > 0 {
            mark = clock.now
            try await throttle.take(prepared.bytesToWrite)
            times.network = (clock.now - mark).seconds
        }
        mark = clock.now
        let write = try await io.run { () throws(RepositoryError) in try repository.commit(prepared) }
        times.target = (clock.now - mark).seconds
        return BlockOutcome(
            index: index, chunk: write.chunk, bytesRead: length, bytesWritten: write.storedBytes, unchanged: false,
            times: times)
    }
}

extension Duration {
    /// The duration in seconds, for rates and busy times.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

extension DiskTransfer {
    /// The backup blocks that changed areas touch, for `changedBlocks`.
    public static func blocks(touchedBy areas: [DiskArea], blockSize: BlockSize) -> Set<Int> {
        var blocks = Set<Int>()
        let size = Int64(blockSize.bytes)
        for area in areas where area.length > 0 {
            let first = Int(area.offset / size)
            let last = Int((area.offset + area.length - 1) / size)
            blocks.formUnion(first...last)
        }
        return blocks
    }
}
