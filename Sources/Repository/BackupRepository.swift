import Foundation

/// A backup repository on a file-system path:
///
///     repository.json                    format marker, written once at creation
///     chunks/ab/ab12...                  content-addressed chunks (see `ChunkStore`)
///     restore-points/<id>/<disk>.json    one manifest per disk per restore point
public struct BackupRepository: Sendable {
    static let formatVersion = 1

    public let root: URL
    public let chunks: ChunkStore

    struct Marker: Codable {
        let format: Int
        let tool: String
        let createdAt: Date
        /// Present for an encrypted repository: the algorithm and the key's fingerprint.
        let encryption: Encryption?

        struct Encryption: Codable {
            let algorithm: String
            let keyFingerprint: String
        }
    }

    /// True when chunks are sealed with a key.
    public var isEncrypted: Bool { chunks.encrypted }

    private init(root: URL, compressionLevel: Int32, encrypted: Bool, key: RepositoryKey?) {
        self.root = root
        self.chunks = ChunkStore(
            directory: root.appendingPathComponent("chunks").path, compressionLevel: compressionLevel,
            encrypted: encrypted, key: key)
    }

    /// Creates a repository in an empty or missing folder; with a key, an encrypted one.
    public static func create(
        at root: URL, compressionLevel: Int32 = 3, key: RepositoryKey? = nil
    ) throws(RepositoryError)
        -> BackupRepository
    {
        let path = root.standardizedFileURL.path
        let parent = (path as NSString).deletingLastPathComponent
        guard FileManager.default.fileExists(atPath: parent) else {
            throw RepositoryError(.invalidInput, "cannot create a repository at \(path): the folder \(parent) does not exist")
        }
        if FileManager.default.fileExists(atPath: path), !DurableFile.isDirectory(path) {
            throw RepositoryError(
                .notARepository, "cannot create a repository at \(path): it is a file, not a folder; give the repository a folder's path")
        }
        if let existing = try? FileManager.default.contentsOfDirectory(atPath: path), !existing.isEmpty {
            throw RepositoryError(.invalidInput, "cannot create a repository at \(path): the folder is not empty")
        }
        try DurableFile.makeDirectory(path)
        for folder in ["chunks", "restore-points", "in-progress", "locks"] { try DurableFile.makeDirectory(path + "/" + folder) }
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let encryption = key.map { Marker.Encryption(algorithm: "AES-256-GCM", keyFingerprint: $0.fingerprint) }
        let marker =
            (try? encoder.encode(Marker(format: formatVersion, tool: "tidemark", createdAt: Date(), encryption: encryption)))
            ?? Data()
        try DurableFile.write(Array(marker), to: path + "/repository.json")
        return try open(at: root, compressionLevel: compressionLevel, key: key)
    }

    /// Opens an existing repository; refuses a folder that is not one, and a key that is not
    /// this repository's. An encrypted repository opened without a key can still be pruned
    /// (names suffice), but not read or written.
    public static func open(
        at root: URL, compressionLevel: Int32 = 3, key: RepositoryKey? = nil
    ) throws(RepositoryError)
        -> BackupRepository
    {
        let path = root.standardizedFileURL.path
        guard let marker = try DurableFile.read(path + "/repository.json") else {
            throw RepositoryError(
                .notARepository,
                FileManager.default.fileExists(atPath: path)
                    ? "\(path) is not a Tidemark repository (it has no repository.json)"
                    : "the repository path \(path) does not exist: create it first or check the path")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        guard let decoded = try? decoder.decode(Marker.self, from: Data(marker)), decoded.format == formatVersion else {
            throw RepositoryError(.notARepository, "\(path)/repository.json is not a format-\(formatVersion) Tidemark repository marker")
        }
        guard (1...19).contains(compressionLevel) else {
            throw RepositoryError(.invalidInput, "compression level \(compressionLevel) is not between 1 and 19")
        }
        if let key {
            guard let encryption = decoded.encryption else {
                throw RepositoryError(.invalidInput, "the repository \(path) is not encrypted: open it without a key file")
            }
            guard encryption.keyFingerprint == key.fingerprint else {
                throw RepositoryError(
                    .wrongKey,
                    "the key given is not the key of \(path) (its key's fingerprint is \(encryption.keyFingerprint), this key's \(key.fingerprint))"
                )
            }
        }
        return BackupRepository(
            root: root.standardizedFileURL, compressionLevel: compressionLevel, encrypted: decoded.encryption != nil, key: key)
    }

    /// Fails with `.notWritable` unless new files can be created (a backup checks this first).
    public func checkWritable() throws(RepositoryError) {
        guard access(chunks.directory, W_OK) == 0, access(restorePointsPath, W_OK) == 0 else {
            throw RepositoryError(.notWritable, "the repository \(root.path) cannot be written: \(errnoText())")
        }
    }

    var restorePointsPath: String { root.appendingPathComponent("restore-points").path }
    var inProgressPath: String { root.appendingPathComponent("in-progress").path }

    /// Saves how far a disk's backup got (its block list so far), so a resumed transfer
    /// continues from there. Kept apart from restore points: it restores nothing.
    ///
    /// The disks of one restore point share its folder, and a disk that finishes removes the
    /// folder once it is empty (`clearProgress`); a sibling saving at that moment makes it again.
    ///
    /// Saved progress names chunks too, so they are made durable first (a checkpoint every
    /// few seconds costs one flush).
    ///
    /// `fence`: the token the writer holds the disk under; refused if another took it over.
    public func saveProgress(
        _ progress: DiskProgress, barrier: ChunkFlushBarrier? = nil, fence: DiskProgressFence? = nil
    ) throws(RepositoryError) {
        try makeChunksDurable(barrier)
        try whileHolding(fence) { () throws(RepositoryError) in try writeProgress(progress) }
    }

    /// Saves progress whose chunks another host keeps (a repository service answers each put
    /// once the chunk is kept): nothing of this folder's file system needs a flush first. For a
    /// staging folder, whose caller holds the disk's fence.
    public func saveProgressOfRemoteChunks(_ progress: DiskProgress) throws(RepositoryError) {
        try writeProgress(progress)
    }

    /// The progress file alone, for callers that made its chunks durable just before.
    private func writeProgress(_ progress: DiskProgress) throws(RepositoryError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(progress) else {
            throw RepositoryError(.io, "could not encode the progress of \(progress.restorePoint)/\(progress.disk)")
        }
        let folder = "\(inProgressPath)/\(progress.restorePoint)"
        try DurableFile.makeDirectory(inProgressPath)
        try DurableFile.makeDirectory(folder)
        try DurableFile.write(Array(data), to: "\(folder)/\(progress.disk).json", remakingFolder: true)
    }

    /// The saved progress of a disk's backup, if one was interrupted.
    public func progress(restorePoint: String, disk: String) throws(RepositoryError) -> DiskProgress? {
        try DiskManifest.checkName(restorePoint, what: "restore point id")
        try DiskManifest.checkName(disk, what: "disk name")
        guard let bytes = try DurableFile.read("\(inProgressPath)/\(restorePoint)/\(disk).json") else { return nil }
        guard let progress = try? JSONDecoder().decode(DiskProgress.self, from: Data(bytes)) else {
            throw RepositoryError(
                .damagedManifest, "the saved progress of \(restorePoint)/\(disk) is damaged; start the disk's transfer again")
        }
        return progress
    }

    /// Forgets a disk's saved progress once its manifest is saved, and its fence: a holder
    /// still running somewhere is refused from now on.
    public func clearProgress(restorePoint: String, disk: String) {
        unlink("\(inProgressPath)/\(restorePoint)/\(disk).json")
        unlink(fencePath(restorePoint: restorePoint, disk: disk))
        rmdir("\(inProgressPath)/\(restorePoint)")
    }

    /// Forgets all saved progress of a restore point, with any temporary file a write killed
    /// midway left beside it (which `clearProgress` leaves, since a sibling disk's write may
    /// be using it). Only for when none of the restore point's transfers can run: its session
    /// is ending.
    public func dropProgress(restorePoint: String) throws(RepositoryError) {
        try DiskManifest.checkName(restorePoint, what: "restore point id")
        let folder = "\(inProgressPath)/\(restorePoint)"
        guard FileManager.default.fileExists(atPath: folder) else { return }
        do {
            try FileManager.default.removeItem(atPath: folder)
        } catch {
            throw RepositoryError(.io, "could not remove the saved progress \(folder): \(error.localizedDescription)")
        }
    }

    func manifestPath(restorePoint: String, disk: String) -> String {
        "\(restorePointsPath)/\(restorePoint)/\(disk).json"
    }

    /// Makes every chunk written so far durable, by this process or another: chunks are
    /// written and renamed without a flush each (`ChunkStore.commit`), and this one
    /// `syncfs` of the chunks' file system is the barrier before anything names them.
    ///
    /// `barrier`: the transfer's own (`flushBarrier()`), which also reports write-back errors
    /// that another writer's flush saw first; nil flushes through a descriptor opened now.
    public func makeChunksDurable(_ barrier: ChunkFlushBarrier? = nil) throws(RepositoryError) {
        if let barrier { return try barrier.flush() }
        try flushBarrier().flush()
    }

    /// A flush barrier for a transfer that begins now (see `ChunkFlushBarrier`).
    public func flushBarrier() throws(RepositoryError) -> ChunkFlushBarrier {
        try ChunkFlushBarrier(directory: chunks.directory)
    }

    /// Stores a manifest atomically; the restore point exists once its first manifest does.
    ///
    /// The chunks are made durable first, whoever wrote them: a manifest never names a chunk
    /// that a power cut could take back (the same rule as Proxmox Backup Server's sync
    /// before an index is written).
    ///
    /// `keepingProgress`: the transfer's complete progress, saved first (its caller clears it
    /// once the transfer's end is recorded). Both name the same chunks, so one flush serves both.
    /// `fence`: as for `saveProgress`; both writes happen under it.
    public func save(
        _ manifest: DiskManifest, keepingProgress progress: DiskProgress? = nil, barrier: ChunkFlushBarrier? = nil,
        fence: DiskProgressFence? = nil
    ) throws(RepositoryError) {
        try makeChunksDurable(barrier)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(manifest) else {
            throw RepositoryError(.io, "could not encode the manifest of \(manifest.restorePoint)/\(manifest.disk)")
        }
        try whileHolding(fence) { () throws(RepositoryError) in
            if let progress { try writeProgress(progress) }
            try DurableFile.makeDirectory("\(restorePointsPath)/\(manifest.restorePoint)")
            try DurableFile.write(Array(data), to: manifestPath(restorePoint: manifest.restorePoint, disk: manifest.disk))
        }
    }

    /// Reads a manifest and checks its shape; a truncated or edited one is refused.
    public func manifest(restorePoint: String, disk: String) throws(RepositoryError) -> DiskManifest {
        try DiskManifest.checkName(restorePoint, what: "restore point id")
        try DiskManifest.checkName(disk, what: "disk name")
        let path = manifestPath(restorePoint: restorePoint, disk: disk)
        guard let bytes = try DurableFile.read(path) else { throw missing(restorePoint: restorePoint, disk: disk) }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let manifest: DiskManifest
        do {
            manifest = try decoder.decode(DiskManifest.self, from: Data(bytes))
        } catch {
            throw RepositoryError(
                .damagedManifest,
                "the manifest \(path) is damaged (truncated or edited) and cannot be trusted; restore from another restore point")
        }
        try manifest.checkShape()
        guard manifest.restorePoint == restorePoint, manifest.disk == disk else {
            throw RepositoryError(.damagedManifest, "the manifest \(path) names \(manifest.restorePoint)/\(manifest.disk)")
        }
        return manifest
    }

    /// Why a manifest cannot be found, with the choices that do exist: the restore point's
    /// disks, or the repository's restore points (the newest few), so the next try is right.
    func missing(restorePoint: String, disk: String) -> RepositoryError {
        if let disks = try? disks(of: restorePoint), !disks.isEmpty {
            return RepositoryError(
                .missingManifest, "restore point \(restorePoint) has no disk '\(disk)'; its disks: \(disks.joined(separator: ", "))")
        }
        return missingRestorePoint(restorePoint)
    }

    /// A restore point the repository does not hold, named with those it does hold.
    public func missingRestorePoint(_ restorePoint: String) -> RepositoryError {
        let known = (try? restorePoints()) ?? []
        guard !known.isEmpty else {
            return RepositoryError(
                .missingManifest, "the repository \(root.path) has no restore point '\(restorePoint)': it holds none yet")
        }
        let dated = known.map { ($0, (try? createdAt(restorePoint: $0)) ?? .distantPast) }.sorted { $0.1 > $1.1 }.map(\.0)
        let shown = dated.prefix(10).joined(separator: ", ") + (dated.count > 10 ? " (and \(dated.count - 10) older)" : "")
        return RepositoryError(
            .missingManifest, "the repository \(root.path) has no restore point '\(restorePoint)'; the newest it holds: \(shown)")
    }

    /// Restore point ids (folders holding at least one manifest), sorted. A folder that
    /// cannot be listed is an error, never an empty repository: garbage collection marks
    /// from this list, and an empty one would let it delete every chunk.
    public func restorePoints() throws(RepositoryError) -> [String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: restorePointsPath)
        } catch {
            throw RepositoryError(.io, "cannot list the restore points in \(restorePointsPath): \(error.localizedDescription)")
        }
        var ids: [String] = []
        // A folder without a manifest is a restore point whose first save never finished.
        for id in names.sorted() where !id.hasPrefix(".") {
            if try !disks(of: id).isEmpty { ids.append(id) }
        }
        return ids
    }

    /// The disks of a restore point, sorted.
    public func disks(of restorePoint: String) throws(RepositoryError) -> [String] {
        try DiskManifest.checkName(restorePoint, what: "restore point id")
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: "\(restorePointsPath)/\(restorePoint)")
        } catch {
            // Not `missingRestorePoint`: that lists restore points, which calls this again.
            throw RepositoryError(.missingManifest, "the repository has no readable restore point \(restorePoint)")
        }
        return names.filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.map { String($0.dropLast(5)) }.sorted()
    }
}
