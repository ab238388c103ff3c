import Foundation

/// The repository folder on this host as a `RepositoryStore`: chunks written beside the
/// manifests, made durable by one flush before anything names them.
extension BackupRepository: RepositoryStore {
    public var location: String { root.path }

    public func loadChunk(_ id: ChunkID) throws(RepositoryError) -> [UInt8] {
        try chunks.load(id)
    }

    public func readHold(wait: Bool) throws(RepositoryError) -> RepositoryHold {
        RepositoryHold(lock: try lock(.shared, wait: wait))
    }

    public func beginTransfer(fence: DiskProgressFence?) throws(RepositoryError) -> RepositoryHold {
        try checkWritable()
        let lock = try lock(.shared, wait: false)
        if let fence { try claim(fence) }
        return RepositoryHold(lock: lock, barrier: try flushBarrier(), fence: fence)
    }

    public func saveProgress(_ progress: DiskProgress, hold: RepositoryHold) throws(RepositoryError) {
        try saveProgress(progress, barrier: hold.barrier, fence: hold.fence)
    }

    public func save(_ manifest: DiskManifest, keepingProgress progress: DiskProgress?, hold: RepositoryHold) throws(RepositoryError) {
        try save(manifest, keepingProgress: progress, barrier: hold.barrier, fence: hold.fence)
    }

    public func holdsSoundly(_ id: ChunkID, blockLength: Int) throws(RepositoryError) -> Bool {
        chunks.soundness(of: id, blockLength: blockLength) == .sound
    }

    public func unsound(among ids: Set<ChunkID>) throws(RepositoryError) -> Set<ChunkID> {
        ids.filter { chunks.soundness(of: $0) != .sound }
    }

    public func absent(among ids: Set<ChunkID>) throws(RepositoryError) -> Set<ChunkID> {
        ids.filter { access(chunks.path(of: $0), F_OK) != 0 }
    }

    public func verifyRestorePoint(_ id: String) throws(RepositoryError) -> [String] {
        var verdicts: [ChunkID: ChunkProblem?] = [:]
        let health = RepositoryHealth(repository: self)
        let report = try health.verify(id, verdicts: &verdicts)
        for chunk in report.corrupt.keys { _ = try health.quarantine(chunk) }
        return report.damage.map { "\($0.disk) at byte \($0.offset): \($0.problem)" }
    }

    public func commit(_ prepared: ChunkStore.PreparedBlock) throws(RepositoryError) -> ChunkStore.Write {
        try chunks.commit(prepared)
    }

    public func removeRestorePoint(_ id: String) throws(RepositoryError) -> RestorePointRemoval {
        try deleteRestorePoint(id)
        return .removed
    }

    public func collectGarbage(dropProgressOlderThan age: TimeInterval?) throws(RepositoryError) -> Int64 {
        try GarbageCollector(repository: self).collect(wait: false, dropProgressOlderThan: age).freedBytes
    }

    public func space() -> RepositorySpaceReading {
        let attributes = try? FileManager.default.attributesOfFileSystem(forPath: root.path)
        var problem: String?
        do throws(RepositoryError) { try checkWritable() } catch { problem = error.message }
        return RepositorySpaceReading(
            online: problem == nil, freeBytes: (attributes?[.systemFreeSize] as? NSNumber)?.int64Value ?? 0,
            capacityBytes: (attributes?[.systemSize] as? NSNumber)?.int64Value ?? 0, problem: problem)
    }
}
