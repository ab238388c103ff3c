import BlockingIO
import Foundation
import Repository
import RepositoryService
import Synchronization

/// A repository service on another host as a `RepositoryStore`: chunks and manifests go to
/// the service over its signed, pinned protocol; what only the backup server needs — a
/// transfer's saved progress, its fence, the lock that keeps two of its transfers of one
/// disk apart — stays in a staging folder on this host (`<data folder>/repository-staging/<id>`),
/// a repository folder that never holds a chunk.
///
/// Every call that fails because the service cannot be reached is tried again, waiting a
/// little longer each time, until `retryBudget` has passed since the first try: a link that
/// drops for a few seconds costs a pause, not the task. Past the budget the error says so,
/// and the task's own retry later resumes from the progress saved here.
public struct ServiceRepository: RepositoryStore {
    /// Threads for the calls of transfers to services: each waits on the network (and, while
    /// a link is down, between retries), so they stay off the shared pool that the folders'
    /// writes and flushes use.
    public static let transferThreads = BlockingIOPool(name: "tidemark-service", threads: blocksInFlight)
    /// Blocks of one transfer in flight to a service at once (a folder's transfer has twice
    /// the processors): each waits a round trip or two, which more in flight hide on a
    /// long link; memory stays bounded (a block and its compressed form each).
    public static let blocksInFlight = 16

    public let url: String
    public let staging: BackupRepository
    private let clients: ServiceClientPool
    /// The presence questions of the blocks in flight, asked together.
    private let presence = ChunkPresenceBatcher()
    /// How long a call keeps trying a service it cannot reach. Defaults to 2 minutes.
    public var retryBudget: Duration = .seconds(120)

    /// Opens the staging folder (made on first use) and readies the connections; nothing is
    /// asked of the service yet.
    public init(
        url: String, token: String, thumbprint: String, staging folder: URL, compressionLevel: Int32 = 3, connectTimeout: Int = 10,
        stallTimeout: Int = 60
    ) throws(RepositoryError) {
        do {
            // One client made now: its checks of the pin and the token's form fail here.
            let first = try RepositoryServiceClient(
                url: url, token: token, thumbprint: thumbprint, connectTimeout: connectTimeout, stallTimeout: stallTimeout)
            clients = ServiceClientPool(first: first) { () throws(RemoteRepositoryError) in
                try RepositoryServiceClient(
                    url: url, token: token, thumbprint: thumbprint, connectTimeout: connectTimeout, stallTimeout: stallTimeout)
            }
        } catch {
            throw RepositoryError(.refused, error.message)
        }
        self.url = url
        staging = try Self.openStaging(folder, compressionLevel: compressionLevel, for: url)
    }

    /// The staging folder, made on first use in a folder of its own and renamed into place:
    /// two first uses at once (a session and a restore) or a crash midway never leave a
    /// half-made one that every later open would refuse.
    static func openStaging(_ folder: URL, compressionLevel: Int32, for url: String) throws(RepositoryError) -> BackupRepository {
        let path = folder.standardizedFileURL.path
        if FileManager.default.fileExists(atPath: path + "/repository.json") {
            return try BackupRepository.open(at: folder, compressionLevel: compressionLevel)
        }
        let parent = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(
                atPath: parent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw RepositoryError(
                .notWritable, "cannot make the staging folder's parent for \(url) at \(parent): \(error.localizedDescription)")
        }
        let fresh = URL(fileURLWithPath: parent).appendingPathComponent(".new-\(UUID().uuidString.lowercased())")
        _ = try BackupRepository.create(at: fresh, compressionLevel: compressionLevel)
        if rename(fresh.path, path) != 0 {
            // Another made it first, or something else is in the way.
            try? FileManager.default.removeItem(at: fresh)
            if !FileManager.default.fileExists(atPath: path + "/repository.json") {
                throw RepositoryError(
                    .notWritable,
                    "cannot put the staging folder for \(url) in place at \(path): \(errnoText()); if it is an empty or partial folder, remove it"
                )
            }
        }
        return try BackupRepository.open(at: folder, compressionLevel: compressionLevel)
    }

    public var location: String { url }
    public var chunks: ChunkStore { staging.chunks }
    /// Chunks go to a service as the backup server encodes them; this version sends them unsealed.
    public var isEncrypted: Bool { false }

    /// One call through a pooled connection, tried again while the service cannot be reached
    /// and the budget lasts; its failure as a repository error.
    func call<Value>(
        _ what: String, _ body: (RepositoryServiceClient) throws(RemoteRepositoryError) -> Value
    ) throws(RepositoryError)
        -> Value
    {
        do {
            return try attempt(what, body)
        } catch {
            throw RepositoryError(error.code == .unreachable ? .unreachable : .refused, error.message)
        }
    }

    /// `call`, its failure as the service's own answer (for callers that read its status).
    func attempt<Value>(
        _ what: String, _ body: (RepositoryServiceClient) throws(RemoteRepositoryError) -> Value
    ) throws(RemoteRepositoryError) -> Value {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: retryBudget)
        var wait = Duration.milliseconds(250)
        var tries = 0
        while true {
            tries += 1
            do {
                return try clients.with(body)
            } catch {
                guard error.code == .unreachable else { throw error }
                guard clock.now.advanced(by: wait) < deadline else {
                    throw RemoteRepositoryError(
                        .unreachable,
                        "\(what): \(error.message) (tried \(tries) times in \(retryBudget.components.seconds) s, the retry budget)")
                }
                Thread.sleep(forTimeInterval: Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18)
                wait = min(wait * 2, .seconds(5))
            }
        }
    }

    // MARK: reading

    public func restorePoints() throws(RepositoryError) -> [String] {
        try points().map(\.restorePoint).sorted()
    }

    /// The service's restore points with their disks and immutability.
    public func points() throws(RepositoryError) -> [HardenedRepository.Point] {
        try call("listing the restore points of \(url)") { client throws(RemoteRepositoryError) in try client.points() }
    }

    public func disks(of restorePoint: String) throws(RepositoryError) -> [String] {
        try DiskManifest.checkName(restorePoint, what: "restore point id")
        guard let point = try points().first(where: { $0.restorePoint == restorePoint }) else {
            throw RepositoryError(.missingManifest, "the repository service at \(url) has no restore point '\(restorePoint)'")
        }
        return point.disks.sorted()
    }

    public func manifest(restorePoint: String, disk: String) throws(RepositoryError) -> DiskManifest {
        try DiskManifest.checkName(restorePoint, what: "restore point id")
        try DiskManifest.checkName(disk, what: "disk name")
        let manifest: DiskManifest
        do {
            manifest = try attempt("reading \(restorePoint)/\(disk) from \(url)") { client throws(RemoteRepositoryError) in
                try client.manifest(point: restorePoint, disk: disk)
            }
        } catch {
            guard error.status == 404 else { throw RepositoryError(error.code == .unreachable ? .unreachable : .refused, error.message) }
            throw RepositoryError(.missingManifest, "the repository service at \(url) has no manifest \(restorePoint)/\(disk)")
        }
        try manifest.checkShape()
        guard manifest.restorePoint == restorePoint, manifest.disk == disk else {
            throw RepositoryError(
                .damagedManifest,
                "the repository service at \(url) answered \(restorePoint)/\(disk) with \(manifest.restorePoint)/\(manifest.disk)")
        }
        return manifest
    }

    public func loadChunk(_ id: ChunkID) throws(RepositoryError) -> [UInt8] {
        let file: [UInt8]
        do {
            file = try attempt("reading chunk \(id) from \(url)") { client throws(RemoteRepositoryError) in try client.chunk(id) }
        } catch {
            guard error.status == 404 else { throw RepositoryError(error.code == .unreachable ? .unreachable : .refused, error.message) }
            throw RepositoryError(.missingChunk, "chunk \(id) is missing from the repository service at \(url)")
        }
        switch chunks.check(file, as: id) {
        case .success(let block): return block
        case .failure(let problem):
            throw RepositoryError(.corruptChunk, "chunk \(id) from the repository service at \(url) is \(problem)")
        }
    }

    /// The service never collects what a manifest names: a reader needs no lock there.
    public func readHold(wait: Bool) throws(RepositoryError) -> RepositoryHold {
        .remote(lock: nil, fence: nil)
    }

    // MARK: writing a disk

    public func beginTransfer(fence: DiskProgressFence?) throws(RepositoryError) -> RepositoryHold {
        _ = try call("asking \(url) for its status") { client throws(RemoteRepositoryError) in try client.status() }
        let lock = try staging.lock(.shared, wait: false)
        if let fence { try staging.claim(fence) }
        return .remote(lock: lock, fence: fence)
    }

    public func progress(restorePoint: String, disk: String) throws(RepositoryError) -> DiskProgress? {
        try staging.progress(restorePoint: restorePoint, disk: disk)
    }

    /// The chunks it names are on the service already (each put is answered once kept): no
    /// flush of the backup server's file system before the progress file is written.
    public func saveProgress(_ progress: DiskProgress, hold: RepositoryHold) throws(RepositoryError) {
        try staging.whileHolding(hold.fence) { () throws(RepositoryError) in
            try staging.saveProgressOfRemoteChunks(progress)
        }
    }

    /// The manifest goes to the service under the disk's fence: a transfer that lost its task
    /// cannot send one after its successor took over. The service refuses a manifest naming
    /// a chunk it does not hold.
    public func save(_ manifest: DiskManifest, keepingProgress progress: DiskProgress?, hold: RepositoryHold) throws(RepositoryError) {
        try staging.whileHolding(hold.fence) { () throws(RepositoryError) in
            if let progress { try staging.saveProgressOfRemoteChunks(progress) }
            _ = try call("sending the manifest of \(manifest.restorePoint)/\(manifest.disk) to \(url)") {
                client throws(RemoteRepositoryError) in try client.putManifest(manifest)
            }
        }
    }

    public func clearProgress(restorePoint: String, disk: String) {
        staging.clearProgress(restorePoint: restorePoint, disk: disk)
    }

    public func finishProgress(restorePoint: String, disk: String) {
        staging.finishProgress(restorePoint: restorePoint, disk: disk)
    }

    public func dropProgress(restorePoint: String) throws(RepositoryError) {
        try staging.dropProgress(restorePoint: restorePoint)
    }

    /// Asked together with the other blocks in flight (`ChunkPresenceBatcher`).
    public func holdsSoundly(_ id: ChunkID, blockLength: Int) throws(RepositoryError) -> Bool {
        try presence.holds(id) { names throws(RepositoryError) in try unsound(among: names) }
    }

    /// Asked in batches of 50,000 names (the service checks each held chunk's file).
    public func unsound(among ids: Set<ChunkID>) throws(RepositoryError) -> Set<ChunkID> {
        guard !ids.isEmpty else { return [] }
        let names = Array(ids)
        return Set(try call("asking \(url) which chunks it lacks") { client throws(RemoteRepositoryError) in try client.missing(names) })
    }

    /// The service's one question answers both: what it lacks or holds torn.
    public func absent(among ids: Set<ChunkID>) throws(RepositoryError) -> Set<ChunkID> {
        try unsound(among: ids)
    }

    public func commit(_ prepared: ChunkStore.PreparedBlock) throws(RepositoryError) -> ChunkStore.Write {
        guard let id = prepared.chunk, let file = prepared.file else { return ChunkStore.Write(chunk: prepared.chunk, storedBytes: 0) }
        try call("sending chunk \(id) to \(url)") { client throws(RemoteRepositoryError) in try client.putChunk(id, file: file) }
        return ChunkStore.Write(chunk: id, storedBytes: file.count)
    }

    /// The service re-reads and re-hashes every chunk of the point on its own host.
    public func verify(point: String) throws(RepositoryError) -> RepositoryProtocol.Verification {
        try call("verifying \(point) on \(url)") { client throws(RemoteRepositoryError) in try client.verify(point: point) }
    }

    public func verifyRestorePoint(_ id: String) throws(RepositoryError) -> [String] {
        try verify(point: id).problems
    }

    // MARK: upkeep

    /// Asks the service to delete; while the point is immutable the service refuses (and
    /// journals the refusal), and the answer is the date it becomes removable.
    public func removeRestorePoint(_ id: String) throws(RepositoryError) -> RestorePointRemoval {
        do {
            try attempt("deleting restore point \(id) on \(url)") { client throws(RemoteRepositoryError) in try client.deletePoint(id) }
            return .removed
        } catch {
            switch error.status {
            case 404: return .removed
            case 403:
                guard let point = try points().first(where: { $0.restorePoint == id }) else { return .removed }
                return .immutable(until: point.immutableUntil)
            default: throw RepositoryError(error.code == .unreachable ? .unreachable : .refused, error.message)
            }
        }
    }

    /// The service collects (it decides what); the staging folder drops progress that expired.
    public func collectGarbage(dropProgressOlderThan age: TimeInterval?) throws(RepositoryError) -> Int64 {
        _ = try? staging.collectGarbage(dropProgressOlderThan: age)
        do {
            return try attempt("asking \(url) to collect garbage") { client throws(RemoteRepositoryError) in try client.collectGarbage() }
                .freedBytes
        } catch {
            // 409: a manifest is being kept meanwhile (another job's); the next retention asks again.
            if error.status == 409 { throw RepositoryError(.busy, error.message) }
            throw RepositoryError(error.code == .unreachable ? .unreachable : .refused, error.message)
        }
    }

    public func space() -> RepositorySpaceReading {
        do throws(RepositoryError) {
            var quick = self
            quick.retryBudget = .seconds(5)
            let status = try quick.call("asking \(url) for its status") { client throws(RemoteRepositoryError) in try client.status() }
            let room = status.room
            return RepositorySpaceReading(online: true, freeBytes: room.free, capacityBytes: room.capacity)
        } catch {
            return RepositorySpaceReading(online: false, freeBytes: 0, capacityBytes: 0, problem: error.message)
        }
    }
}

/// Connections to one service, each used by one call at a time: transfers run several
/// blocks at once, and one connection would send their chunks one after another.
final class ServiceClientPool: Sendable {
    private let idle: Mutex<[RepositoryServiceClient]>
    private let make: @Sendable () throws(RemoteRepositoryError) -> RepositoryServiceClient

    init(first: RepositoryServiceClient, make: @escaping @Sendable () throws(RemoteRepositoryError) -> RepositoryServiceClient) {
        idle = Mutex([first])
        self.make = make
    }

    func with<Value>(_ body: (RepositoryServiceClient) throws(RemoteRepositoryError) -> Value) throws(RemoteRepositoryError) -> Value {
        let client: RepositoryServiceClient
        if let reused = idle.withLock({ $0.popLast() }) { client = reused } else { client = try make() }
        defer { idle.withLock { $0.append(client) } }
        return try body(client)
    }
}
