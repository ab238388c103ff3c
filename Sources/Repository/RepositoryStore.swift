import Foundation

/// A backup repository however it is reached: the folder on this host (`BackupRepository`)
/// or a repository service on another (`ServiceRepository`, in the RemoteRepository module).
/// Sessions, retention, restores and verification go through this, never through one kind,
/// so a job writes to a service exactly as it writes to a folder.
///
/// Every call blocks (file or network I/O): callers run them on the blocking pool.
public protocol RepositoryStore: Sendable {
    /// Where it is, for messages and events: a folder's path or a service's URL.
    var location: String { get }
    /// How blocks are named and encoded for it (hash, compression, sealing).
    var chunks: ChunkStore { get }
    var isEncrypted: Bool { get }

    // MARK: reading

    /// Restore point ids holding at least one manifest, sorted. A listing that fails is an
    /// error, never an empty repository.
    func restorePoints() throws(RepositoryError) -> [String]
    /// The disks of a restore point, sorted.
    func disks(of restorePoint: String) throws(RepositoryError) -> [String]
    /// A manifest, its shape checked.
    func manifest(restorePoint: String, disk: String) throws(RepositoryError) -> DiskManifest
    /// The block a chunk holds, re-hashed against its name.
    func loadChunk(_ id: ChunkID) throws(RepositoryError) -> [UInt8]
    /// Held while a restore reads: a folder's shared lock, so its garbage collection waits;
    /// nothing for a service, which never collects a chunk a manifest names.
    func readHold(wait: Bool) throws(RepositoryError) -> RepositoryHold

    // MARK: writing a disk

    /// Readies a transfer: writable, the shared lock (a collection cannot remove a chunk the
    /// transfer relies on), and the disk's fence claimed. The hold is kept to the end.
    func beginTransfer(fence: DiskProgressFence?) throws(RepositoryError) -> RepositoryHold
    /// The saved progress of a disk's interrupted backup.
    func progress(restorePoint: String, disk: String) throws(RepositoryError) -> DiskProgress?
    /// Saves how far a disk's backup got, once the chunks it names are durable.
    func saveProgress(_ progress: DiskProgress, hold: RepositoryHold) throws(RepositoryError)
    /// Stores a disk's manifest once every chunk it names is durable.
    func save(_ manifest: DiskManifest, keepingProgress progress: DiskProgress?, hold: RepositoryHold) throws(RepositoryError)
    func clearProgress(restorePoint: String, disk: String)
    func finishProgress(restorePoint: String, disk: String)
    func dropProgress(restorePoint: String) throws(RepositoryError)
    /// Whether the chunk is held soundly (then a block with that name is not sent again).
    func holdsSoundly(_ id: ChunkID, blockLength: Int) throws(RepositoryError) -> Bool
    /// Of `ids`, those not held soundly: the last look before a manifest names them.
    func unsound(among ids: Set<ChunkID>) throws(RepositoryError) -> Set<ChunkID>
    /// Of `ids`, those not there at all (cheaper than `unsound` for a folder): whether a base
    /// manifest's chunks survived a prune, so changed-block tracking can build on it.
    func absent(among ids: Set<ChunkID>) throws(RepositoryError) -> Set<ChunkID>
    /// Writes a prepared block (nothing for a zero block or one held already).
    func commit(_ prepared: ChunkStore.PreparedBlock) throws(RepositoryError) -> ChunkStore.Write
    /// Every chunk the point's manifests name read again and re-hashed where it is stored (on
    /// the service's own host for a service): what is wrong, empty when the point is sound. A
    /// corrupt chunk is set aside, so the next transfer that needs it writes it again.
    func verifyRestorePoint(_ id: String) throws(RepositoryError) -> [String]

    // MARK: upkeep

    /// Removes a restore point, or says until when it is immutable (a hardened repository
    /// refuses before that, whoever asks).
    func removeRestorePoint(_ id: String) throws(RepositoryError) -> RestorePointRemoval
    /// Removes what no restore point or saved progress names; `dropProgressOlderThan` expires
    /// saved progress of transfers that never finished. Returns the bytes freed.
    func collectGarbage(dropProgressOlderThan age: TimeInterval?) throws(RepositoryError) -> Int64
    /// Whether it can be written now, and its room.
    func space() -> RepositorySpaceReading
}

/// What a repository keeps for a reader or a transfer until it lets go (a lock, a flush
/// barrier, a fence). Its holder calls `release()` when its work ends; the last reference
/// going releases it too, as a backstop.
public final class RepositoryHold: Sendable {
    let lock: RepositoryLock?
    let barrier: ChunkFlushBarrier?
    public let fence: DiskProgressFence?

    init(lock: RepositoryLock?, barrier: ChunkFlushBarrier? = nil, fence: DiskProgressFence? = nil) {
        self.lock = lock
        self.barrier = barrier
        self.fence = fence
    }

    /// A hold for a repository reached through a service: its local part (a staging folder's
    /// lock and fence) only.
    public static func remote(lock: RepositoryLock?, fence: DiskProgressFence?) -> RepositoryHold {
        RepositoryHold(lock: lock, fence: fence)
    }

    /// Lets the repository's lock go now; later calls do nothing.
    public func release() { lock?.release() }
}

/// What asking to remove a restore point did.
public enum RestorePointRemoval: Sendable, Equatable {
    case removed
    /// Refused: the point stays immutable until then; a later retention removes it.
    case immutable(until: Date)
}

/// A repository's reachability and room, for the session's check (step 3).
public struct RepositorySpaceReading: Sendable, Equatable {
    public var online: Bool
    public var freeBytes: Int64
    public var capacityBytes: Int64
    /// Why it is offline, when it is.
    public var problem: String?

    public init(online: Bool, freeBytes: Int64, capacityBytes: Int64, problem: String? = nil) {
        self.online = online
        self.freeBytes = freeBytes
        self.capacityBytes = capacityBytes
        self.problem = problem
    }

    /// Free room in percent, one decimal. A repository online that cannot say its room (a
    /// service with no quota, an older service) reads 100: it is not refused for it.
    public var freePercent: Double {
        capacityBytes > 0 ? (Double(freeBytes) / Double(capacityBytes) * 1_000).rounded() / 10 : (online ? 100 : 0)
    }
}
