import Foundation

/// What the Job Manager asks a data mover to do for one task (one disk), and what the mover
/// reports back: the contract between the Job Manager and a proxy process, carried by
/// `tidemark.proxy_assignments` (the embedded data mover gets the same order in memory).
///
/// The Job Manager decides (snapshot, restore point, incremental base and the changed areas,
/// throttling rate, checkpoint cadence); the mover only moves. Credentials never travel in
/// the order: they are sealed to the process's key beside it (`SealedCredentials`).
public struct TransferOrder: Codable, Sendable, Equatable {
    enum CodingKeys: String, CodingKey {
        case sessionId = "session_id", taskId = "task_id", serverId = "server_id", vmId = "vm_id", vmName = "vm_name"
        case diskKey = "disk_key", snapshotId = "snapshot_id", restorePointId = "restore_point_id", disk
        case blockSizeBytes = "block_size_bytes", compressionLevel = "compression_level", repositoryId = "repository_id"
        case repositoryPath = "repository_path", base, throttleBytesPerSecond = "throttle_bytes_per_second"
        case checkpointBytes = "checkpoint_bytes", checkpointSeconds = "checkpoint_seconds", serverVersion = "server_version"
    }

    /// The incremental base: the previous restore point's manifest of the disk, and the
    /// areas changed since (changed block tracking). Absent: the whole disk is read.
    public struct Base: Codable, Sendable, Equatable {
        enum CodingKeys: String, CodingKey {
            case restorePointId = "restore_point_id", changedAreas = "changed_areas"
        }

        public var restorePointId: String
        /// `[offset, length]` pairs, in bytes.
        public var changedAreas: [[Int64]]
        public init(restorePointId: String, changedAreas: [[Int64]]) {
            self.restorePointId = restorePointId
            self.changedAreas = changedAreas
        }
    }

    public var sessionId: String
    public var taskId: String
    public var serverId: String
    public var vmId: String
    public var vmName: String
    public var diskKey: Int
    public var snapshotId: String
    public var restorePointId: String
    public var disk: String
    public var blockSizeBytes: Int
    public var compressionLevel: Int
    public var repositoryId: String
    public var repositoryPath: String
    public var base: Base?
    public var throttleBytesPerSecond: Int64?
    public var checkpointBytes: Int64
    public var checkpointSeconds: Double
    /// The managed server's catalog version the session planned with: a mover that keeps the
    /// catalog in memory reads it again only when its copy is of another version. Absent in
    /// orders of earlier versions.
    public var serverVersion: Int64?

    public init(
        sessionId: String, taskId: String, serverId: String, vmId: String, vmName: String, diskKey: Int, snapshotId: String,
        restorePointId: String, disk: String, blockSizeBytes: Int, compressionLevel: Int, repositoryId: String, repositoryPath: String,
        base: Base?, throttleBytesPerSecond: Int64?, checkpointBytes: Int64, checkpointSeconds: Double, serverVersion: Int64? = nil
    ) {
        self.sessionId = sessionId
        self.taskId = taskId
        self.serverId = serverId
        self.vmId = vmId
        self.vmName = vmName
        self.diskKey = diskKey
        self.snapshotId = snapshotId
        self.restorePointId = restorePointId
        self.disk = disk
        self.blockSizeBytes = blockSizeBytes
        self.compressionLevel = compressionLevel
        self.repositoryId = repositoryId
        self.repositoryPath = repositoryPath
        self.base = base
        self.throttleBytesPerSecond = throttleBytesPerSecond
        self.checkpointBytes = checkpointBytes
        self.checkpointSeconds = checkpointSeconds
        self.serverVersion = serverVersion
    }
}

/// A mover's figures: at a checkpoint (`progress` only), and at the end (with the stage times
/// measured where the work happened, for the session's bottleneck).
public struct TransferReport: Codable, Sendable, Equatable {
    enum CodingKeys: String, CodingKey {
        case offset, bytesRead = "bytes_read", bytesTransferred = "bytes_transferred", newChunks = "new_chunks"
        case busySeconds = "busy_seconds", wallSeconds = "wall_seconds", parallelism, resumedFromOffset = "resumed_from_offset"
    }

    /// Seconds each stage was busy (summed over blocks in flight).
    public struct BusySeconds: Codable, Sendable, Equatable {
        public var source: Double
        public var proxy: Double
        public var network: Double
        public var target: Double
        public init(source: Double, proxy: Double, network: Double, target: Double) {
            self.source = source
            self.proxy = proxy
            self.network = network
            self.target = target
        }
    }

    public var offset: Int64
    public var bytesRead: Int64
    public var bytesTransferred: Int64
    public var newChunks: Int64
    public var busySeconds: BusySeconds?
    public var wallSeconds: Double?
    public var parallelism: Int?
    /// Where this run began when it continued saved progress.
    public var resumedFromOffset: Int64?

    public init(
        offset: Int64, bytesRead: Int64, bytesTransferred: Int64, newChunks: Int64, busySeconds: BusySeconds? = nil,
        wallSeconds: Double? = nil, parallelism: Int? = nil, resumedFromOffset: Int64? = nil
    ) {
        self.resumedFromOffset = resumedFromOffset
        self.offset = offset
        self.bytesRead = bytesRead
        self.bytesTransferred = bytesTransferred
        self.newChunks = newChunks
        self.busySeconds = busySeconds
        self.wallSeconds = wallSeconds
        self.parallelism = parallelism
    }

    public func progress(of task: String) -> SessionEvent.TransferProgress {
        SessionEvent.TransferProgress(
            taskId: task, offset: offset, bytesRead: bytesRead, bytesTransferred: bytesTransferred, newChunks: newChunks,
            resumedFromOffset: resumedFromOffset)
    }
}
