import Foundation
import Repository
import Synchronization

/// A repository as the repository service keeps it: a plain `BackupRepository` folder on the
/// service's host, and beside it (`service/`) the settings, the tokens, one record per restore
/// point and the journal. Every rule that protects the backups is decided here, on the host
/// that holds them, whatever a request says:
///
/// - a chunk is kept only if its bytes are what its name says, and never replaced;
/// - a manifest is kept only if the service holds every chunk it names, and never replaced
///   by another; its restore point is immutable for the setting's days from its arrival;
/// - deleting an immutable restore point is refused, and garbage collection keeps every chunk
///   a manifest names (so every chunk of an immutable point) and every chunk younger than a
///   day (a backup's chunks arrive before its manifest);
/// - each write, deletion and refusal is in the journal before the answer; a manifest's
///   save, a deletion and a collection are journaled as `started` before they act and `done`
///   after, so an act a crash cut short shows in the journal as a `started` with no end (a
///   chunk's put is journaled once it is kept: its name is its content, and one kept without
///   its line is the same chunk a retry would bring).
///
/// Calls block (file I/O with fsync): callers run them off the cooperative pool.
public final class HardenedRepository: Sendable {
    public let repository: BackupRepository
    public let journal: ServiceJournal
    public let root: URL
    let tokens: Mutex<ServiceTokens>
    let settings: ImmutabilitySettings
    /// The service's clock: the system's, or a test's.
    let clock: @Sendable () -> Date
    let nonces: NonceLedger
    let quota: ServiceQuota
    let refusals = RefusalLimit()
    /// One manifest write or restore point deletion at a time: a deletion and a new manifest
    /// of the same point must not interleave (the record of one, the folder of the other).
    let pointOperations = Mutex(())
    /// One process at a time on a repository: the service, or its administrator's command.
    private let hold: ServiceLock
    /// How long after a restore point's arrival its disks may still come (one backup's
    /// manifests); later, a new disk name is refused like any other change.
    public static let sealingTime: TimeInterval = 24 * 3_600

    /// Chunks younger than this are never collected: the manifest naming them may be on its way.
    public static let chunkGracePeriod: TimeInterval = 24 * 3_600

    var serviceFolder: String { root.appendingPathComponent("service").path }
    var settingsPath: String { serviceFolder + "/settings.json" }
    var tokensPath: String { serviceFolder + "/tokens.json" }
    var pointsFolder: String { serviceFolder + "/points" }

    /// Opens the repository at `root` (creating it in an empty or missing folder), and the
    /// service's files beside it. `immutableDays`, given by the host's administrator, becomes
    /// the setting (recorded in the journal when it changes); otherwise the saved one, or the
    /// default for a new service.
    /// `quota`, also the host administrator's: bytes of chunks kept at most (`.some(nil)`: none),
    /// or the saved setting when nil.
    public init(
        root: URL, immutableDays: Int? = nil, quota: Int64?? = nil, clock: @escaping @Sendable () -> Date = Date.init
    ) throws(RepositoryServiceError) {
        self.root = root.standardizedFileURL
        self.clock = clock
        do {
            let marker = root.appendingPathComponent("repository.json").path
            repository =
                FileManager.default.fileExists(atPath: marker) ? try BackupRepository.open(at: root) : try BackupRepository.create(at: root)
        } catch {
            throw RepositoryServiceError(error)
        }
        // Before anything of the service's is read or written (after the repository exists:
        // a new repository is made in an empty folder).
        hold = try ServiceLock(folder: root.appendingPathComponent("service"))
        guard !repository.isEncrypted else {
            throw RepositoryServiceError(
                .invalidInput,
                "\(root.path) is an encrypted repository: the service keeps plain chunks it can check by their names; give it a folder of its own"
            )
        }
        for folder in [root.appendingPathComponent("service").path, root.appendingPathComponent("service/points").path] {
            do {
                try FileManager.default.createDirectory(
                    atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw RepositoryServiceError(.io, "cannot create \(folder): \(error.localizedDescription)")
            }
        }
        journal = try ServiceJournal(path: root.appendingPathComponent("service/journal.jsonl").path)
        let settingsPath = root.appendingPathComponent("service/settings.json").path
        let saved = try ImmutabilitySettings.load(settingsPath)
        let now = clock()
        if let immutableDays, immutableDays != saved?.immutableDays {
            let changed = try ImmutabilitySettings(immutableDays: immutableDays, changedAt: now)
            try changed.save(settingsPath)
            try journal.record(
                "settings", "immutable_days", outcome: "done",
                reason: "from \(saved.map { String($0.immutableDays) } ?? "none") to \(immutableDays) days, for new restore points",
                actor: "local", at: now)
            settings = changed
        } else if let saved {
            settings = saved
        } else {
            settings = try ImmutabilitySettings(immutableDays: ImmutabilitySettings.defaultDays, changedAt: now)
            try settings.save(settingsPath)
            try journal.record(
                "settings", "immutable_days", outcome: "done", reason: "\(settings.immutableDays) days", actor: "local", at: now)
        }
        tokens = Mutex(try ServiceTokens.load(root.appendingPathComponent("service/tokens.json").path))
        nonces = try NonceLedger(folder: root.appendingPathComponent("service/nonces").path, now: now)
        let limit = try ServiceQuota.setting(
            given: quota, path: root.appendingPathComponent("service/quota.json").path, journal: journal, now: now)
        self.quota = ServiceQuota(limit: limit, chunksFolder: root.appendingPathComponent("chunks").path)
    }

    /// Bytes of chunks held, and the quota (nil: none).
    public var usedBytes: Int64 { quota.usedBytes }
    public var quotaBytes: Int64? { quota.limit }

    public var immutableDays: Int { settings.immutableDays }

    /// A token for a backup server, shown once; the service keeps its digest.
    public func issueToken(label: String) throws(RepositoryServiceError) -> String {
        let now = clock()
        let token = try tokens.withLock { (tokens) throws(RepositoryServiceError) -> String in
            try tokens.issue(label: label, at: now, saveTo: tokensPath)
        }
        try journal.record("token.issue", ServiceTokens.prefix(of: token) ?? "", outcome: "done", reason: label, actor: "local", at: now)
        return token
    }

    /// Checks a request's `Authorization` header; the token prefix it was signed with.
    /// A refusal is journaled with its reason and thrown as `unauthorized`. Past
    /// ``RefusalLimit/perMinute`` refusals in a minute from one address, that address's
    /// refusals are no longer journaled (one entry says so), so nobody can fill the journal or
    /// its disk; a rightly signed request from it is still let through, so a flood from a
    /// shared address cannot lock the backup server out.
    public func authenticate(
        header: String?, method: String, path: String, body: some DataProtocol, client: String
    ) throws(RepositoryServiceError) -> String {
        let now = clock()
        var reason: String?
        var actor = "unknown"
        if let header, let parts = RequestSignature.parse(header) {
            actor = parts.token
            let key = tokens.withLock { $0.key(prefix: parts.token) }
            reason = RequestSignature.check(parts, key: key, method: method, path: path, body: body, now: now, nonces: nonces)
        } else {
            reason = "no signed Authorization header"
        }
        guard let reason else { return actor }
        switch refusals.state(of: client, at: now) {
        case .allowed:
            try refuse("request", "\(method) \(path)", because: reason, actor: actor, client: client, code: .unauthorized, counted: true)
        case .startsNow:
            try refuse(
                "request", client,
                because:
                    "more than \(RefusalLimit.perMinute) refused requests in a minute from \(client): its refusals are not journaled for a minute",
                actor: actor, client: client, code: .unauthorized, counted: true)
        case .limited:
            refusals.count(client, at: now)
            throw RepositoryServiceError(.unauthorized, reason)
        }
    }

    /// Whether a request's header could be good, before its body is read: signed with a token
    /// the service issued. A request that is not is refused without its body being taken in.
    public func isPlausible(header: String?) -> Bool {
        guard let header, let parts = RequestSignature.parse(header) else { return false }
        return tokens.withLock { $0.key(prefix: parts.token) } != nil
    }

    /// Journals a refusal, then throws it; `counted`: against its client's limit (requests
    /// that are not signed as they should be).
    func refuse(
        _ action: String, _ subject: String, because reason: String, actor: String, client: String?,
        code: RepositoryServiceError.Code, counted: Bool = false
    ) throws(RepositoryServiceError) -> Never {
        let now = clock()
        if counted, let client { refusals.count(client, at: now) }
        try journal.record(action, subject, outcome: "refused", reason: reason, actor: actor, client: client, at: now)
        throw RepositoryServiceError(code, reason)
    }

    // MARK: chunks

    /// A chunk's name from a request: 64 hex digits, nothing else (never a path).
    static func chunkID(_ name: String) throws(RepositoryServiceError) -> ChunkID {
        guard let id = ChunkID(hex: name) else {
            throw RepositoryServiceError(.invalidInput, "'\(name.prefix(80))' is not a chunk name (64 hex digits)")
        }
        return id
    }

    /// The names among `names` the service does not hold.
    public func missing(_ names: [String]) throws(RepositoryServiceError) -> [String] {
        var missing: [String] = []
        for name in names {
            let id = try Self.chunkID(name)
            // Held soundly (present, header and length right): a chunk a power cut left torn or
            // empty, written without a flush each, counts as missing and is sent again. A
            // chunk held is touched: its client is about to name it, so collection spares it
            // for another grace period even if no manifest names it yet.
            if repository.chunks.soundness(of: id) != .sound || utimensat(AT_FDCWD, repository.chunks.path(of: id), nil, 0) != 0 {
                missing.append(name)
            }
        }
        return missing
    }

    /// Keeps a chunk after checking its bytes against its name; true when it was new. A chunk
    /// held already is left as it is (the one kept was checked when it came).
    @discardableResult
    public func putChunk(_ name: String, file: [UInt8], actor: String, client: String?) throws(RepositoryServiceError) -> Bool {
        let id = try Self.chunkID(name)
        if case .success = repository.chunks.read(id) {
            _ = utimensat(AT_FDCWD, repository.chunks.path(of: id), nil, 0)
            return false
        }
        if case .failure(let problem) = repository.chunks.check(file, as: id) {
            try refuse(
                "chunk.put", name, because: "the chunk's bytes are refused: \(problem)", actor: actor, client: client, code: .mismatch)
        }
        guard quota.reserve(Int64(file.count)) else {
            try refuse(
                "chunk.put", name,
                because:
                    "the service's quota of \(quota.limit ?? 0) bytes is reached (\(quota.usedBytes) held): the host's administrator raises it, or collection frees what no restore point names",
                actor: actor, client: client, code: .quotaExceeded)
        }
        // Another put of the same chunk may have kept it meanwhile: its bytes are counted once.
        // A file that is there but torn (a power cut) is replaced, whole, by this one.
        if repository.chunks.soundness(of: id) == .sound {
            quota.release(Int64(file.count))
            return false
        }
        do {
            let path = repository.chunks.path(of: id)
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try DurableFile.write(file, to: path, flushed: false)
        } catch let error as RepositoryError {
            quota.release(Int64(file.count))
            throw RepositoryServiceError(error)
        } catch {
            quota.release(Int64(file.count))
            throw RepositoryServiceError(.io, "cannot store chunk \(name): \(error.localizedDescription)")
        }
        try journal.record("chunk.put", name, outcome: "done", actor: actor, client: client, at: clock())
        return true
    }

    /// A chunk's file as kept.
    public func chunk(_ name: String) throws(RepositoryServiceError) -> [UInt8] {
        let id = try Self.chunkID(name)
        let file: [UInt8]?
        do {
            file = try DurableFile.read(repository.chunks.path(of: id))
        } catch {
            throw RepositoryServiceError(error)
        }
        guard let file else { throw RepositoryServiceError(.notFound, "the service holds no chunk \(name)") }
        return file
    }

    // MARK: restore points

    func recordPath(_ point: String) -> String { "\(pointsFolder)/\(point).json" }

    /// Keeps a disk's manifest: refused when it names a chunk the service does not hold, or
    /// when another manifest is kept under its name already (the same one again is fine). The
    /// restore point's record is written before its first manifest, so a point is never
    /// without its immutability.
    @discardableResult
    public func putManifest(
        point: String, disk: String, body: [UInt8], actor: String, client: String?
    ) throws(RepositoryServiceError) -> PointRecord {
        let subject = "\(point)/\(disk)"
        let manifest: DiskManifest
        do throws(RepositoryError) {
            try DiskManifest.checkName(point, what: "restore point id")
            try DiskManifest.checkName(disk, what: "disk name")
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            guard let decoded = try? decoder.decode(DiskManifest.self, from: Data(body)) else {
                throw RepositoryError(.damagedManifest, "the body is not a disk manifest (JSON)")
            }
            try decoded.checkShape()
            manifest = decoded
        } catch {
            throw RepositoryServiceError(error)
        }
        guard manifest.restorePoint == point, manifest.disk == disk else {
            throw RepositoryServiceError(.invalidInput, "the manifest is of \(manifest.restorePoint)/\(manifest.disk), sent as \(subject)")
        }
        // The repository's shared lock from the check of the chunks to the manifest's save:
        // collection (exclusive) cannot delete a chunk this manifest is about to name.
        let lock: RepositoryLock
        do {
            lock = try repository.lock(.shared, wait: true)
        } catch {
            throw RepositoryServiceError(error)
        }
        defer { lock.release() }
        return try pointOperations.withLock { _ throws(RepositoryServiceError) -> PointRecord in
            try keep(manifest, subject: subject, actor: actor, client: client)
        }
    }

    /// `putManifest` under its locks.
    private func keep(
        _ manifest: DiskManifest, subject: String, actor: String, client: String?
    ) throws(RepositoryServiceError) -> PointRecord {
        let (point, disk) = (manifest.restorePoint, manifest.disk)
        // Fail closed: a folder that exists but cannot be listed is an error, never "nothing kept".
        var held: [String] = []
        if FileManager.default.fileExists(atPath: root.appendingPathComponent("restore-points/\(point)").path) {
            do {
                held = try repository.disks(of: point)
            } catch {
                throw RepositoryServiceError(.io, "cannot list the disks of \(point): \(error.message)")
            }
        }
        if held.contains(disk) {
            // Kept already: the same disk again is fine (a client that lost the answer, or
            // resumed after a crash, sends it again with a new time and log head: the blocks
            // are what count, and the kept one stays); another, or one that no longer reads,
            // is never replaced.
            guard let kept = try? repository.manifest(restorePoint: point, disk: disk),
                kept.diskSize == manifest.diskSize, kept.blockSize == manifest.blockSize, kept.blocks == manifest.blocks
            else {
                try refuse(
                    "manifest.put", subject, because: "a different manifest is kept as \(subject): restore points are never overwritten",
                    actor: actor, client: client, code: .immutable)
            }
            if let record = try PointRecord.load(recordPath(point)) { return record }
        }
        // Held soundly, not merely present: a chunk a power cut left torn is not held.
        let absent = Set(manifest.blocks.compactMap { $0 }).filter { repository.chunks.soundness(of: $0) != .sound }
        if let first = absent.first {
            try refuse(
                "manifest.put", subject,
                because: "the manifest names \(absent.count) chunks the service does not hold (\(first.hex), ...): send them first",
                actor: actor, client: client, code: .conflict)
        }
        // Whole seconds: the record keeps what it says when read back (ISO 8601).
        let now = Date(timeIntervalSince1970: clock().timeIntervalSince1970.rounded(.down))
        var record = try PointRecord.load(recordPath(point))
        if !held.isEmpty, let sealed = record?.createdAt.addingTimeInterval(Self.sealingTime), now >= sealed {
            try refuse(
                "manifest.put", subject,
                because:
                    "restore point \(point) is sealed (its disks came in its first \(Int(Self.sealingTime / 3_600)) hours): a disk added now would change it",
                actor: actor, client: client, code: .immutable)
        }
        // A record without manifests whose days are over is a deletion's that a crash left
        // behind: a new point of that name gets its own days, not the old point's end.
        // Journaled before anything of the point is written, its record included.
        try journal.record("manifest.put", subject, outcome: "started", actor: actor, client: client, at: now)
        if record == nil || (held.isEmpty && record?.isImmutable(at: now) == false) {
            let fresh = PointRecord(
                restorePoint: point, createdAt: now, immutableUntil: now.addingTimeInterval(Double(settings.immutableDays) * 86_400))
            do {
                try fresh.save(recordPath(point))
            } catch {
                _ = try? journal.record(
                    "manifest.put", subject, outcome: "failed", reason: error.message, actor: actor, client: client, at: clock())
                throw error
            }
            record = fresh
        }
        do {
            try repository.save(manifest)
        } catch {
            _ = try? journal.record(
                "manifest.put", subject, outcome: "failed", reason: error.message, actor: actor, client: client, at: clock())
            throw RepositoryServiceError(error)
        }
        try journal.record("manifest.put", subject, outcome: "done", actor: actor, client: client, at: now)
        return record!
    }

    /// A disk's manifest as kept.
    public func manifest(point: String, disk: String) throws(RepositoryServiceError) -> DiskManifest {
        do {
            return try repository.manifest(restorePoint: point, disk: disk)
        } catch {
            throw RepositoryServiceError(error)
        }
    }

    /// One restore point as the service lists it.
    public struct Point: Codable, Sendable, Equatable {
        public var restorePoint: String
        public var disks: [String]
        public var createdAt: Date
        public var immutableUntil: Date

        enum CodingKeys: String, CodingKey {
            case disks
            case restorePoint = "restore_point"
            case createdAt = "created_at"
            case immutableUntil = "immutable_until"
        }
    }

    /// Every restore point held, oldest first.
    public func points() throws(RepositoryServiceError) -> [Point] {
        do {
            var points: [Point] = []
            for id in try repository.restorePoints() {
                let record = try self.record(of: id)
                points.append(
                    Point(
                        restorePoint: id, disks: try repository.disks(of: id), createdAt: record.createdAt,
                        immutableUntil: record.immutableUntil))
            }
            return points.sorted { ($0.createdAt, $0.restorePoint) < ($1.createdAt, $1.restorePoint) }
        } catch let error as RepositoryServiceError {
            throw error
        } catch let error as RepositoryError {
            throw RepositoryServiceError(error)
        } catch {
            throw RepositoryServiceError(.io, "\(error)")
        }
    }

    /// A point's record; one made outside the service (no record) is immutable from its
    /// manifests' time for the current setting.
    func record(of point: String) throws -> PointRecord {
        if let record = try PointRecord.load(recordPath(point)) { return record }
        let created = try repository.createdAt(restorePoint: point)
        return PointRecord(
            restorePoint: point, createdAt: created, immutableUntil: created.addingTimeInterval(Double(settings.immutableDays) * 86_400))
    }

    /// Deletes a restore point once it is no longer immutable; refused (and journaled) before.
    public func deletePoint(_ point: String, actor: String, client: String?) throws(RepositoryServiceError) {
        try pointOperations.withLock { _ throws(RepositoryServiceError) in try delete(point, actor: actor, client: client) }
    }

    private func delete(_ point: String, actor: String, client: String?) throws(RepositoryServiceError) {
        let record: PointRecord
        do {
            try DiskManifest.checkName(point, what: "restore point id")
            guard try !repository.disks(of: point).isEmpty else { throw RepositoryError(.missingManifest, "no restore point \(point)") }
            record = try self.record(of: point)
        } catch let error as RepositoryError where error.code == .missingManifest {
            throw RepositoryServiceError(.notFound, "the service holds no restore point '\(point)'")
        } catch let error as RepositoryError where error.code == .invalidInput {
            throw RepositoryServiceError(.invalidInput, error.message)
        } catch let error as RepositoryError {
            throw RepositoryServiceError(.io, "cannot read restore point '\(point)': \(error.message)")
        } catch {
            throw RepositoryServiceError(.io, "\(error)")
        }
        let now = clock()
        if record.isImmutable(at: now) {
            try refuse(
                "point.delete", point,
                because:
                    "restore point \(point) is immutable until \(ISO8601DateFormatter().string(from: record.immutableUntil)): no token can delete it before",
                actor: actor, client: client, code: .immutable)
        }
        try journal.record("point.delete", point, outcome: "started", actor: actor, client: client, at: now)
        do {
            try repository.deleteRestorePoint(point)
        } catch {
            _ = try? journal.record(
                "point.delete", point, outcome: "failed", reason: error.message, actor: actor, client: client, at: clock())
            throw RepositoryServiceError(error)
        }
        unlink(recordPath(point))
        try journal.record("point.delete", point, outcome: "done", actor: actor, client: client, at: now)
    }

    /// Re-hashes every chunk a restore point names; the chunks that are missing or damaged.
    public func verify(point: String) throws(RepositoryServiceError) -> (chunks: Int, problems: [String]) {
        let (chunks, bad) = try verifyChunks(point: point)
        return (chunks, bad.map { "chunk \($0.chunk.hex) is \($0.problem)" })
    }

    /// `verify`, each bad chunk with its problem. With `quarantining` (who asked), a corrupt
    /// chunk is moved to `quarantine/` (journaled): nothing is lost, since its bytes were not
    /// its block's any more, and the service answers "missing" for it from then on, so the
    /// next backup that meets the block sends it again (a chunk that arrives whole heals it).
    public func verifyChunks(
        point: String, quarantining requester: (actor: String, client: String?)? = nil
    ) throws(RepositoryServiceError) -> (chunks: Int, bad: [(chunk: ChunkID, problem: ChunkProblem, quarantined: Bool)]) {
        var chunks = Set<ChunkID>()
        do throws(RepositoryError) {
            let disks = try repository.disks(of: point)
            guard !disks.isEmpty else { throw RepositoryError(.missingManifest, "the service holds no restore point '\(point)'") }
            for disk in disks {
                for block in try repository.manifest(restorePoint: point, disk: disk).blocks { if let block { chunks.insert(block) } }
            }
        } catch {
            throw RepositoryServiceError(error)
        }
        var bad: [(chunk: ChunkID, problem: ChunkProblem, quarantined: Bool)] = []
        for chunk in chunks.sorted(by: { $0.hex < $1.hex }) {
            guard case .failure(let problem) = repository.chunks.read(chunk) else { continue }
            var quarantined = false
            if let requester, problem != .missing {
                do {
                    quarantined = try RepositoryHealth(repository: repository).quarantine(chunk)
                } catch {
                    throw RepositoryServiceError(error)
                }
                if quarantined {
                    try journal.record(
                        "chunk.quarantine", chunk.hex, outcome: "done", reason: "\(problem)", actor: requester.actor,
                        client: requester.client,
                        at: clock())
                }
            }
            bad.append((chunk, problem, quarantined))
        }
        return (chunks.count, bad)
    }

    /// Collects the chunks no manifest names and that are older than a day, under the
    /// repository's exclusive lock; journaled.
    public func collectGarbage(actor: String, client: String?) throws(RepositoryServiceError) -> GarbageCollector.Report {
        let report: GarbageCollector.Report
        try journal.record("gc", "chunks", outcome: "started", actor: actor, client: client, at: clock())
        do {
            report = try GarbageCollector(repository: repository).collect(sparingChunksNewerThan: Self.chunkGracePeriod, now: clock())
            quota.recount(root.appendingPathComponent("chunks").path)
        } catch {
            _ = try? journal.record("gc", "chunks", outcome: "failed", reason: error.message, actor: actor, client: client, at: clock())
            throw RepositoryServiceError(error)
        }
        try journal.record(
            "gc", "chunks", outcome: "done",
            reason: "\(report.deletedChunks) unreferenced chunks deleted (\(report.freedBytes) bytes), \(report.referencedChunks) kept",
            actor: actor, client: client, at: clock())
        return report
    }
}
