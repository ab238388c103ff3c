import EventStore
import Foundation

/// The events of a restore session, on the stream `restore-<uuid>`: the restore workflow's
/// contract with the projections, the replay and the auditors, built like a backup session's.
/// Every side effect sits between an intent and its outcome (`RestoreTargetRequested` before
/// a VM is created, `RestorePowerOnRequested` before it is switched on), so a restore run
/// again after a crash finds out what happened. All schema version 1; byte counts of
/// checkpoints are cumulative.
///
/// A task is one disk of one VM of the restore (`<source vm id>/<disk key>`).
public enum RestoreEvent {
    public static let category = "restore"

    public static func stream(of restore: String) -> String { "\(category)-\(restore)" }

    public static func restore(inStream stream: String) -> String? {
        stream.hasPrefix(category + "-") ? String(stream.dropFirst(category.count + 1)) : nil
    }

    public enum Kind: String, Sendable, CaseIterable {
        case requested = "RestoreRequested"
        case targetRequested = "RestoreTargetRequested"
        case targetPrepared = "RestoreTargetPrepared"
        case diskStarted = "RestoreDiskStarted"
        case diskCheckpointed = "RestoreDiskCheckpointed"
        case diskFinished = "RestoreDiskFinished"
        case powerOnRequested = "RestorePowerOnRequested"
        case poweredOn = "RestorePoweredOn"
        case powerOffRequested = "RestorePowerOffRequested"
        case poweredOff = "RestorePoweredOff"
        case throttleApplied = "RestoreThrottleApplied"
        case filesCopied = "RestoreFilesCopied"
        case overlayApplied = "RestoreOverlayApplied"
        case finished = "RestoreFinished"
    }

    /// What is restored, and to what.
    public enum What: EventEnumeration {
        /// Whole VMs, created on a managed server.
        case vm
        /// One disk, to a file.
        case disk
        /// A VM's disks as files in a folder.
        case export
        /// Guest files, read from a disk's file system, to a folder.
        case files
        case other(String)

        public init(rawValue: String) {
            switch rawValue {
            case "vm": self = .vm
            case "disk": self = .disk
            case "export": self = .export
            case "files": self = .files
            default: self = .other(rawValue)
            }
        }

        public var rawValue: String {
            switch self {
            case .vm: "vm"
            case .disk: "disk"
            case .export: "export"
            case .files: "files"
            case .other(let word): word
            }
        }
    }

    /// A disk of the restore point to restore.
    public struct Disk: Codable, Sendable, Equatable {
        enum CodingKeys: String, CodingKey {
            case disk, key, sizeBytes = "size_bytes", path, targetKey = "target_key", overlay
        }

        /// The manifest's name in the restore point (`disk-2000`).
        public var disk: String
        public var key: Int
        public var sizeBytes: Int64
        /// The file it is written to (disk restores and exports); absent for a VM's disks.
        public var path: String?
        /// The disk of the target VM it is written over, when not the same key (`--target-disk`).
        public var targetKey: Int?
        /// A kept publish overlay (its folder) whose sectors are written over the restored
        /// disk: the writes made while the point was published (migrate).
        public var overlay: String?

        public init(disk: String, key: Int, sizeBytes: Int64, path: String? = nil, targetKey: Int? = nil) {
            self.targetKey = targetKey
            self.disk = disk
            self.key = key
            self.sizeBytes = sizeBytes
            self.path = path
        }
    }

    /// One VM of the restore: which restore point, which disks, what it is called at the target.
    public struct Machine: Codable, Sendable, Equatable {
        enum CodingKeys: String, CodingKey {
            case vmId = "vm_id", vmName = "vm_name", restorePointId = "restore_point_id", pointCreatedAt = "point_created_at"
            case jobId = "job_id", sessionId = "session_id", targetName = "target_name", configuration, disks
            case overwriteVmId = "overwrite_vm_id", changeId = "change_id"
        }

        public var vmId: String
        public var vmName: String
        public var restorePointId: String
        public var pointCreatedAt: Date
        public var jobId: String?
        public var sessionId: String?
        /// The new VM's name (VM restores).
        public var targetName: String?
        public var configuration: SessionEvent.VMConfiguration?
        public var disks: [Disk]
        /// The existing VM written over (`--overwrite`): no VM is created, only the blocks that
        /// differ from the restore point are written where the target can tell.
        public var overwriteVmId: String?
        /// The restore point's change id: what changed on the VM since is what a rollback rewrites.
        public var changeId: String?

        public init(
            vmId: String, vmName: String, restorePointId: String, pointCreatedAt: Date, jobId: String?, sessionId: String?,
            targetName: String?, configuration: SessionEvent.VMConfiguration?, disks: [Disk], overwriteVmId: String? = nil,
            changeId: String? = nil
        ) {
            self.overwriteVmId = overwriteVmId
            self.changeId = changeId
            self.vmId = vmId
            self.vmName = vmName
            self.restorePointId = restorePointId
            self.pointCreatedAt = pointCreatedAt
            self.jobId = jobId
            self.sessionId = sessionId
            self.targetName = targetName
            self.configuration = configuration
            self.disks = disks
        }
    }

    /// Where a VM restore creates its VMs: ids in the target's inventory, resolved from the
    /// names given when the restore was requested, and the names for people.
    public struct Target: Codable, Sendable, Equatable {
        enum CodingKeys: String, CodingKey {
            case serverId = "server_id", serverName = "server_name", folderId = "folder_id", folderPath = "folder_path"
            case hostId = "host_id", hostName = "host_name", clusterId = "cluster_id", datastoreId = "datastore_id"
            case datastoreName = "datastore_name", networkMap = "network_map", powerOn = "power_on", keepMac = "keep_mac"
            case overwrite, powerOff = "power_off"
        }

        public var serverId: String
        public var serverName: String
        public var folderId: String
        public var folderPath: String
        public var hostId: String
        public var hostName: String
        public var clusterId: String
        public var datastoreId: String
        public var datastoreName: String
        /// Source network id → target network id, for every network the VMs' NICs use.
        public var networkMap: [String: String]
        public var powerOn: Bool
        public var keepMac: Bool
        public var overwrite: Bool
        /// A VM written over may be switched off first (`--power-off`); otherwise it must be off.
        public var powerOff: Bool?

        public init(
            serverId: String, serverName: String, folderId: String, folderPath: String, hostId: String, hostName: String,
            clusterId: String, datastoreId: String, datastoreName: String, networkMap: [String: String], powerOn: Bool, keepMac: Bool,
            overwrite: Bool, powerOff: Bool? = nil
        ) {
            self.powerOff = powerOff
            self.serverId = serverId
            self.serverName = serverName
            self.folderId = folderId
            self.folderPath = folderPath
            self.hostId = hostId
            self.hostName = hostName
            self.clusterId = clusterId
            self.datastoreId = datastoreId
            self.datastoreName = datastoreName
            self.networkMap = networkMap
            self.powerOn = powerOn
            self.keepMac = keepMac
            self.overwrite = overwrite
        }
    }

    /// The intent, recorded once every input was checked: nothing is created before it.
    public struct Requested: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case restoreId = "restore_id", what, reason, repositoryId = "repository_id", repositoryName = "repository_name"
            case vms, target, replace, raw, guestFiles = "guest_files"
        }

        public var restoreId: String
        public var what: What
        /// Why, as the person who asked said it (`--reason`); the actor is in the metadata.
        public var reason: String?
        public var repositoryId: String
        public var repositoryName: String
        public var vms: [Machine]
        /// VM restores only.
        public var target: Target?
        /// Disk restores and exports: whether an existing file may be replaced.
        public var replace: Bool?
        /// Disk restores and exports: zeros written (a raw image) rather than left as holes.
        public var raw: Bool?
        /// File restores: which files, from which file system, to which folder.
        public var guestFiles: GuestFiles?

        public init(
            restoreId: String, what: What, reason: String?, repositoryId: String, repositoryName: String, vms: [Machine],
            target: Target?, replace: Bool?, raw: Bool? = nil, guestFiles: GuestFiles? = nil
        ) {
            self.guestFiles = guestFiles
            self.raw = raw
            self.restoreId = restoreId
            self.what = what
            self.reason = reason
            self.repositoryId = repositoryId
            self.repositoryName = repositoryName
            self.vms = vms
            self.target = target
            self.replace = replace
        }
    }

    /// A file restore's selection: guest paths from one file system (a disk, a partition on it
    /// or the whole disk) into a folder on the machine that runs the restore.
    public struct GuestFiles: Codable, Sendable, Equatable {
        enum CodingKeys: String, CodingKey {
            case disk, partition, paths, folder, overwrite, host
        }

        /// The manifest's name (`disk-2000`).
        public var disk: String
        /// Nil: a file system on the whole disk.
        public var partition: Int?
        /// Absolute guest paths, as asked for.
        public var paths: [String]
        public var folder: String
        /// What is already in the folder may be replaced.
        public var overwrite: Bool
        /// The machine whose folder it is (a file restore resumes only there).
        public var host: String

        public init(disk: String, partition: Int?, paths: [String], folder: String, overwrite: Bool, host: String) {
            self.disk = disk
            self.partition = partition
            self.paths = paths
            self.folder = folder
            self.overwrite = overwrite
            self.host = host
        }
    }

    /// A kept publish overlay written over a restored disk (migrate): how many 4 KiB sectors.
    public struct OverlayApplied: Codable, Sendable, Equatable {
        enum CodingKeys: String, CodingKey {
            case taskId = "task_id", overlay, sectors, bytes
        }

        public var taskId: String
        public var overlay: String
        public var sectors: Int
        public var bytes: Int64

        public init(taskId: String, overlay: String, sectors: Int, bytes: Int64) {
            self.taskId = taskId
            self.overlay = overlay
            self.sectors = sectors
            self.bytes = bytes
        }
    }

    /// A file restore's copy, done: what was written (a resumed restore copies again, over
    /// what its first run wrote).
    public struct FilesCopied: Codable, Sendable, Equatable {
        enum CodingKeys: String, CodingKey {
            case files, directories, links, bytes, skipped, ownersKept = "owners_kept", blockBytes = "block_bytes"
            case storedBytes = "stored_bytes"
        }

        public var files: Int
        public var directories: Int
        public var links: Int
        /// File bytes written.
        public var bytes: Int64
        /// Entries left out, each with why (devices, sockets, FIFOs).
        public var skipped: [String]
        /// The guest's owners set on what was written (false unless run as root).
        public var ownersKept: Bool
        /// The disk's blocks loaded to read them, and their chunks' bytes as stored.
        public var blockBytes: Int64
        public var storedBytes: Int64

        public init(
            files: Int, directories: Int, links: Int, bytes: Int64, skipped: [String], ownersKept: Bool, blockBytes: Int64,
            storedBytes: Int64
        ) {
            self.files = files
            self.directories = directories
            self.links = links
            self.bytes = bytes
            self.skipped = skipped
            self.ownersKept = ownersKept
            self.blockBytes = blockBytes
            self.storedBytes = storedBytes
        }
    }

    /// Before a VM is created: its name and the mark it carries, by which a resumed restore
    /// adopts it instead of creating another.
    public struct TargetRequested: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case vmId = "vm_id", name, annotation
        }

        public var vmId: String
        public var name: String
        public var annotation: String

        public init(vmId: String, name: String, annotation: String) {
            self.vmId = vmId
            self.name = name
            self.annotation = annotation
        }
    }

    public struct TargetPrepared: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case vmId = "vm_id", targetVmId = "target_vm_id", targetVmName = "target_vm_name", adopted
        }

        public var vmId: String
        public var targetVmId: String
        public var targetVmName: String
        /// Found by its mark on resume, not created by this run.
        public var adopted: Bool

        public init(vmId: String, targetVmId: String, targetVmName: String, adopted: Bool) {
            self.vmId = vmId
            self.targetVmId = targetVmId
            self.targetVmName = targetVmName
            self.adopted = adopted
        }
    }

    public struct DiskStarted: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case taskId = "task_id", vmId = "vm_id", disk, sizeBytes = "size_bytes", target, mode, areaBytes = "area_bytes"
        }

        public var taskId: String
        public var vmId: String
        public var disk: String
        public var sizeBytes: Int64
        /// The file, or `<vm id> disk <key>` on the target server.
        public var target: String
        /// `full` (every block written), `changed` (a rollback: only what changed since the
        /// restore point, compared first) or `compare` (every block compared, written if it differs).
        public var mode: String?
        /// For `changed`: the bytes of the areas changed since the restore point.
        public var areaBytes: Int64?

        public init(
            taskId: String, vmId: String, disk: String, sizeBytes: Int64, target: String, mode: String? = nil, areaBytes: Int64? = nil
        ) {
            self.mode = mode
            self.areaBytes = areaBytes
            self.taskId = taskId
            self.vmId = vmId
            self.disk = disk
            self.sizeBytes = sizeBytes
            self.target = target
        }
    }

    /// A disk's progress (cumulative), recorded after the target flushed what it counts; a
    /// resumed restore continues from `offset`. The finish carries the same figures.
    public struct DiskProgress: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case taskId = "task_id", offset, readBytes = "read_bytes", writtenBytes = "written_bytes", skippedBytes = "skipped_bytes"
            case result, message
        }

        public var taskId: String
        public var offset: Int64
        /// Non-zero blocks loaded from the repository.
        public var readBytes: Int64
        public var writtenBytes: Int64
        /// Blocks the target already held as the restore point has them (quick rollback), or zeros.
        public var skippedBytes: Int64
        /// Finish only: success or failed.
        public var result: SessionEvent.Outcome?
        /// Why it failed: the restore point, disk and offset of a missing or corrupt chunk.
        public var message: String?

        public init(
            taskId: String, offset: Int64, readBytes: Int64, writtenBytes: Int64, skippedBytes: Int64,
            result: SessionEvent.Outcome? = nil, message: String? = nil
        ) {
            self.taskId = taskId
            self.offset = offset
            self.readBytes = readBytes
            self.writtenBytes = writtenBytes
            self.skippedBytes = skippedBytes
            self.result = result
            self.message = message
        }
    }

    public struct Power: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case vmId = "vm_id", targetVmId = "target_vm_id"
        }

        public var vmId: String
        public var targetVmId: String

        public init(vmId: String, targetVmId: String) {
            self.vmId = vmId
            self.targetVmId = targetVmId
        }
    }

    /// `RestoreThrottleApplied`: the throttling rule this run's copies go under (the link
    /// between the repository's site and the repository), and this restore's share of its rate
    /// (the rule's rate divided among the sessions, backups and restores, under it now).
    /// Recorded by each run that finds a rule; absent, nothing is throttled.
    public struct ThrottleApplied: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case ruleId = "rule_id", ruleName = "rule_name", bytesPerSecond = "bytes_per_second", sessionsSharing = "sessions_sharing"
        }

        public var ruleId: String
        public var ruleName: String
        public var bytesPerSecond: Int64
        public var sessionsSharing: Int

        public init(ruleId: String, ruleName: String, bytesPerSecond: Int64, sessionsSharing: Int) {
            self.ruleId = ruleId
            self.ruleName = ruleName
            self.bytesPerSecond = bytesPerSecond
            self.sessionsSharing = sessionsSharing
        }
    }

    public struct Finished: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case result, readBytes = "read_bytes", writtenBytes = "written_bytes", skippedBytes = "skipped_bytes"
            case durationSeconds = "duration_seconds", bytesPerSecond = "bytes_per_second", busy, bottleneck, reason
        }

        public var result: SessionEvent.Outcome
        public var readBytes: Int64
        public var writtenBytes: Int64
        public var skippedBytes: Int64
        /// From `RestoreRequested` to now, however often it resumed.
        public var durationSeconds: Double
        /// Restored bytes (written and skipped) per second of that.
        public var bytesPerSecond: Int64
        /// Busy share (0-100) of reading the repository (`source`) and writing the target
        /// (`target`) in the last run.
        public var busy: [String: Double]?
        public var bottleneck: String?
        public var reason: String?

        public init(
            result: SessionEvent.Outcome, readBytes: Int64, writtenBytes: Int64, skippedBytes: Int64, durationSeconds: Double,
            bytesPerSecond: Int64, busy: [String: Double]?, bottleneck: String?, reason: String?
        ) {
            self.result = result
            self.readBytes = readBytes
            self.writtenBytes = writtenBytes
            self.skippedBytes = skippedBytes
            self.durationSeconds = durationSeconds
            self.bytesPerSecond = bytesPerSecond
            self.busy = busy
            self.bottleneck = bottleneck
            self.reason = reason
        }
    }

    /// The data fields the projections and log queries look up, spelled once.
    public enum Field {
        public static let restoreId = Requested.CodingKeys.restoreId.rawValue
        public static let what = Requested.CodingKeys.what.rawValue
        public static let reason = Requested.CodingKeys.reason.rawValue
        public static let repositoryId = Requested.CodingKeys.repositoryId.rawValue
        public static let taskId = DiskStarted.CodingKeys.taskId.rawValue
        public static let result = Finished.CodingKeys.result.rawValue
        public static let readBytes = Finished.CodingKeys.readBytes.rawValue
        public static let writtenBytes = Finished.CodingKeys.writtenBytes.rawValue
        public static let skippedBytes = Finished.CodingKeys.skippedBytes.rawValue
        public static let durationSeconds = Finished.CodingKeys.durationSeconds.rawValue
        public static let bytesPerSecond = Finished.CodingKeys.bytesPerSecond.rawValue
        public static let bottleneck = Finished.CodingKeys.bottleneck.rawValue
        public static let vmId = TargetPrepared.CodingKeys.vmId.rawValue
        public static let targetVmId = TargetPrepared.CodingKeys.targetVmId.rawValue
        public static let targetVmName = TargetPrepared.CodingKeys.targetVmName.rawValue
    }

    public static func logKind(_ kind: Kind) -> LogQuery.Kind { LogQuery.Kind(category: category, type: kind.rawValue) }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }

    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }
}
