import Foundation

/// Deletes the chunks no manifest references.
///
/// It holds the repository's exclusive lock, so no backup runs meanwhile (backups hold the
/// shared lock from their first read to their manifest), and it marks from every manifest
/// and every saved transfer progress, so a resumable transfer keeps its chunks. If any
/// manifest cannot be read it deletes nothing: collecting on incomplete knowledge could
/// remove a chunk a restore point needs.
public struct GarbageCollector: Sendable {
    public struct Report: Sendable, Equatable {
        public let referencedChunks: Int
        public let deletedChunks: Int
        public let freedBytes: Int64
        /// Temporary files of writes that never finished, removed too.
        public let deletedTemporaryFiles: Int
        /// Saved progress of interrupted transfers dropped as stale (their chunks freed).
        public let droppedProgress: Int
    }

    public let repository: BackupRepository

    public init(repository: BackupRepository) {
        self.repository = repository
    }

    /// `dropProgressOlderThan`: saved progress of interrupted transfers not touched for that
    /// long is dropped first (such a transfer starts over), so its chunks can go too. With the
    /// exclusive lock held no transfer runs, so every progress file belongs to one that stopped.
    ///
    /// `sparingChunksNewerThan`: unreferenced chunks written less than that long ago stay, for
    /// a repository whose writers hold no lock between a chunk and its manifest (the
    /// repository service, whose clients send them in separate requests).
    @discardableResult
    public func collect(
        wait: Bool = false, dropProgressOlderThan age: TimeInterval? = nil, sparingChunksNewerThan grace: TimeInterval? = nil,
        now: Date = Date()
    )
        throws(RepositoryError) -> Report
    {
        let lock = try repository.lock(.exclusive, wait: wait)
        defer { lock.release() }
        var dropped = 0
        if let age {
            for saved in try savedProgress() {
                let modified = (try? FileManager.default.attributesOfItem(atPath: saved.path)[.modificationDate] as? Date) ?? now
                if now.timeIntervalSince(modified) >= age, unlink(saved.path) == 0 { dropped += 1 }
                rmdir((saved.path as NSString).deletingLastPathComponent)
            }
        }
        let referenced = try markReferenced()
        var deleted = 0
        var freed: Int64 = 0
        var temporary = removeTemporaryFiles(under: repository.inProgressPath, removingEmptyFolders: true)
        temporary += removeTemporaryFiles(under: repository.restorePointsPath, removingEmptyFolders: false)
        let chunksPath = repository.chunks.directory
        let prefixes = (try? FileManager.default.contentsOfDirectory(atPath: chunksPath)) ?? []
        for prefix in prefixes {
            let folder = chunksPath + "/" + prefix
            for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
                let path = folder + "/" + name
                if name.hasPrefix(DurableFile.temporaryPrefix) {
                    if unlink(path) == 0 { temporary += 1 }
                    continue
                }
                guard let id = ChunkID(hex: name), !referenced.contains(id) else { continue }
                var info = stat()
                let size = stat(path, &info) == 0 ? Int64(info.st_size) : 0
                if let grace, now.timeIntervalSince1970 - Double(info.st_mtim.tv_sec) < grace { continue }
                guard unlink(path) == 0 else {
                    throw RepositoryError(.io, "cannot delete the unreferenced chunk \(path): \(errnoText())")
                }
                deleted += 1
                freed += size
            }
        }
        // Restore points whose deletion was interrupted by a crash.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: repository.restorePointsPath)) ?? []
        where name.hasPrefix(".deleting-") {
            try? FileManager.default.removeItem(atPath: repository.restorePointsPath + "/" + name)
        }
        return Report(
            referencedChunks: referenced.count, deletedChunks: deleted, freedBytes: freed, deletedTemporaryFiles: temporary,
            droppedProgress: dropped)
    }

    /// Removes the temporary files that writes killed midway left in the restore points' or
    /// the saved progress's folders (with the lock held nothing writes there), and progress
    /// folders left empty. Returns how many files went.
    private func removeTemporaryFiles(under root: String, removingEmptyFolders: Bool) -> Int {
        var removed = 0
        for folder in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] where !folder.hasPrefix(".") {
            let path = root + "/" + folder
            for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            where name.hasPrefix(DurableFile.temporaryPrefix) {
                if unlink(path + "/" + name) == 0 { removed += 1 }
            }
            if removingEmptyFolders { rmdir(path) }
        }
        return removed
    }

    /// A folder's entries; only a folder that does not exist counts as empty.
    private func listing(_ path: String) throws(RepositoryError) -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            if !FileManager.default.fileExists(atPath: path) { return [] }
            throw RepositoryError(.io, "garbage collection deleted nothing: cannot list \(path)")
        }
    }

    private func markReferenced() throws(RepositoryError) -> Set<ChunkID> {
        var referenced = Set<ChunkID>()
        for restorePoint in try repository.restorePoints() {
            for disk in try repository.disks(of: restorePoint) {
                let manifest: DiskManifest
                do {
                    manifest = try repository.manifest(restorePoint: restorePoint, disk: disk)
                } catch {
                    throw RepositoryError(
                        error.code, "garbage collection deleted nothing: \(error.message). Repair or remove that restore point first")
                }
                for case let chunk? in manifest.blocks { referenced.insert(chunk) }
            }
        }
        for saved in try savedProgress() {
            let progress: DiskProgress?
            do {
                progress = try repository.progress(restorePoint: saved.restorePoint, disk: saved.disk)
            } catch {
                throw RepositoryError(error.code, "garbage collection deleted nothing: \(error.message)")
            }
            for case let chunk? in progress?.blocks ?? [] { referenced.insert(chunk) }
        }
        return referenced
    }

    /// Every saved progress file of an interrupted transfer.
    private func savedProgress() throws(RepositoryError) -> [(restorePoint: String, disk: String, path: String)] {
        let inProgress = repository.inProgressPath
        var files: [(restorePoint: String, disk: String, path: String)] = []
        for restorePoint in try listing(inProgress) where !restorePoint.hasPrefix(".") {
            for file in try listing(inProgress + "/" + restorePoint) where file.hasSuffix(".json") && !file.hasPrefix(".") {
                files.append((restorePoint, String(file.dropLast(5)), "\(inProgress)/\(restorePoint)/\(file)"))
            }
        }
        return files
    }
}
