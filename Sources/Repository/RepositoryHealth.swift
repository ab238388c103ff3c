import Foundation

/// The file work of a health check, one restore point at a time, so that the caller can
/// record each outcome as it goes (and resume after a crash): read and re-hash every chunk a
/// restore point names, set corrupt ones aside, and find chunks that a later backup stored
/// again.
///
/// Unlike `RepositoryVerifier --quarantine` it works under the shared lock, beside running
/// backups: a backup that deduplicated against a chunk this moves away checks every chunk
/// again before it writes its manifest (`DiskTransfer`) and stores the block again.
public struct RepositoryHealth: Sendable {
    public let repository: BackupRepository

    public init(repository: BackupRepository) {
        self.repository = repository
    }

    /// One reference to a chunk that is missing or corrupt.
    public struct Damage: Sendable, Equatable {
        public let disk: String
        public let offset: Int64
        public let chunk: ChunkID?
        public let problem: String

        public init(disk: String, offset: Int64, chunk: ChunkID?, problem: String) {
            self.disk = disk
            self.offset = offset
            self.chunk = chunk
            self.problem = problem
        }
    }

    /// What verifying one restore point found.
    public struct PointReport: Sendable {
        public let restorePoint: String
        /// Bytes of the blocks it names (zero blocks excluded): what a budget counts.
        public let bytes: Int64
        public let damage: [Damage]
        /// Chunks read and found corrupt / missing for the first time in this check.
        public let corrupt: [ChunkID: String]
        public let missing: Set<ChunkID>

        public init(restorePoint: String, bytes: Int64, damage: [Damage], corrupt: [ChunkID: String], missing: Set<ChunkID>) {
            self.restorePoint = restorePoint
            self.bytes = bytes
            self.damage = damage
            self.corrupt = corrupt
            self.missing = missing
        }
    }

    /// Bytes of the non-zero blocks a restore point names: what verifying it reads.
    public func bytes(of restorePoint: String) throws(RepositoryError) -> Int64 {
        var total: Int64 = 0
        for disk in try repository.disks(of: restorePoint) {
            let manifest = try repository.manifest(restorePoint: restorePoint, disk: disk)
            for (index, chunk) in manifest.blocks.enumerated() where chunk != nil { total += Int64(manifest.length(ofBlock: index)) }
        }
        return total
    }

    /// Reads every chunk of the restore point. `verdicts` carries what earlier points of the
    /// same check learnt, so a chunk shared by many points is read once per check.
    public func verify(_ restorePoint: String, verdicts: inout [ChunkID: ChunkProblem?]) throws(RepositoryError) -> PointReport {
        let lock = try repository.lock(.shared, wait: false)
        defer { lock.release() }
        var damage: [Damage] = []
        var corrupt: [ChunkID: String] = [:]
        var missing = Set<ChunkID>()
        var bytes: Int64 = 0
        for disk in try repository.disks(of: restorePoint) {
            let manifest: DiskManifest
            do {
                manifest = try repository.manifest(restorePoint: restorePoint, disk: disk)
            } catch {
                damage.append(Damage(disk: disk, offset: 0, chunk: nil, problem: error.message))
                continue
            }
            for (index, chunk) in manifest.blocks.enumerated() {
                guard let chunk else { continue }
                bytes += Int64(manifest.length(ofBlock: index))
                let firstSeen = verdicts[chunk] == nil
                let verdict = repository.chunks.verdict(of: chunk, length: manifest.length(ofBlock: index), remembered: &verdicts)
                if firstSeen {
                    switch verdict {
                    case .none: break
                    case .missing?: missing.insert(chunk)
                    case let problem?: corrupt[chunk] = problem.description
                    }
                }
                if let verdict {
                    damage.append(
                        Damage(
                            disk: disk, offset: Int64(index) * Int64(manifest.blockSize.bytes), chunk: chunk, problem: verdict.description))
                }
            }
        }
        return PointReport(restorePoint: restorePoint, bytes: bytes, damage: damage, corrupt: corrupt, missing: missing)
    }

    /// Moves a corrupt chunk to `quarantine/` so the next backup that meets its block finds
    /// the name free and stores it again. Returns false if it was not there (moved already).
    @discardableResult
    public func quarantine(_ chunk: ChunkID) throws(RepositoryError) -> Bool {
        let folder = repository.chunks.quarantineDirectory
        try DurableFile.makeDirectory(folder)
        guard rename(repository.chunks.path(of: chunk), repository.chunks.quarantinePath(of: chunk)) == 0 else {
            if errno == ENOENT { return false }
            throw RepositoryError(.io, "cannot move the corrupt chunk \(chunk) to \(folder): \(errnoText())")
        }
        try DurableFile.syncDirectory(folder)
        try DurableFile.syncDirectory((repository.chunks.path(of: chunk) as NSString).deletingLastPathComponent)
        return true
    }

    /// Quarantined chunks that a backup has stored again since and that now read back
    /// whole: the heals to record. Their quarantined copies stay until `forgetQuarantinedCopy`
    /// (after the heal is recorded, so a crash between the two finds the heal again).
    public func restoredQuarantinedChunks() throws(RepositoryError) -> [ChunkID] {
        let folder = repository.chunks.quarantineDirectory
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder)
        } catch {
            if !FileManager.default.fileExists(atPath: folder) { return [] }
            throw RepositoryError(.io, "cannot list the quarantine folder \(folder): \(error.localizedDescription)")
        }
        return names.sorted().compactMap(ChunkID.init(hex:)).filter { chunk in
            guard repository.chunks.soundness(of: chunk) == .sound, case .success = repository.chunks.read(chunk) else { return false }
            return true
        }
    }

    /// Deletes the corrupt copy of a chunk that has been stored again.
    public func forgetQuarantinedCopy(_ chunk: ChunkID) throws(RepositoryError) {
        guard unlink(repository.chunks.quarantinePath(of: chunk)) == 0 || errno == ENOENT else {
            throw RepositoryError(.io, "cannot delete the quarantined copy of the healed chunk \(chunk): \(errnoText())")
        }
    }

    /// Chunks sitting in quarantine, not yet stored again.
    public func quarantinedChunks() -> [ChunkID] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: repository.chunks.quarantineDirectory)) ?? []
        return names.sorted().compactMap(ChunkID.init(hex:)).filter { repository.chunks.soundness(of: $0) == .missing }
    }

    /// Restore points whose transfers are finished: a restore point with saved progress in
    /// `in-progress/` is still being written (or was interrupted) and is not checked yet.
    public func finishedRestorePoints() throws(RepositoryError) -> [String] {
        let inProgress = Set((try? FileManager.default.contentsOfDirectory(atPath: repository.inProgressPath)) ?? [])
        return try repository.restorePoints().filter { !inProgress.contains($0) }
    }
}
