import Foundation

/// The events of a backup session, on the stream `session-<uuid>`: the Job Manager's
/// contract with the projections, the replay and the auditors. All schema version 1;
/// byte counts are cumulative where an event repeats (checkpoints), so the latest one wins.
///
/// A task is one VM disk (`<vm-id>/<disk-key>`); without parallel processing the disks are
/// processed one after another.
public enum SessionEvent {
    public static let category = "session"

    /// The stream of a session: `session-<uuid>`.
    public static func stream(of session: String) -> String { "\(category)-\(session)" }

    /// The session a stream belongs to, or nil for another stream.
    public static func session(inStream stream: String) -> String? {
        stream.hasPrefix(category + "-") ? String(stream.dropFirst(category.count + 1)) : nil
    }

    /// Session events spell their snake_case keys out (`CodingKeys`), so they are read and
    /// written without a key strategy: converting every key of millions of events would cost
    /// a projection rebuild a quarter of its time.
    public static func decoder() -> JSONDecoder { JSONDecoder() }

    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    public enum Kind: String, Sendable, CaseIterable {
        case sessionStarted = "SessionStarted"
        case objectsEnumerated = "ObjectsEnumerated"
        case repositoryChecked = "RepositoryChecked"
        case taskWaited = "TaskWaited"
        case proxySelected = "ProxySelected"
        case taskAssigned = "TaskAssigned"
        case taskReassigned = "TaskReassigned"
        case taskStarted = "TaskStarted"
        case applicationProcessed = "ApplicationProcessed"
        case snapshotRequested = "SnapshotRequested"
        case snapshotCreated = "SnapshotCreated"
        case throttleApplied = "ThrottleApplied"
        case transferStarted = "TransferStarted"
        case transferCheckpointed = "TransferCheckpointed"
        case transferFinished = "TransferFinished"
        case snapshotRemoved = "SnapshotRemoved"
        case taskFinished = "TaskFinished"
        case copyVerified = "CopyVerified"
        case restorePointCreated = "RestorePointCreated"
        case restorePointRemoved = "RestorePointRemoved"
        case retentionDeferred = "RetentionDeferred"
        case guestIndexStarted = "GuestIndexStarted"
        case guestIndexFinished = "GuestIndexFinished"
        case sessionFinished = "SessionFinished"
    }

    public struct Started: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case sessionId = "session_id", jobId = "job_id", jobName = "job_name", jobVersion = "job_version", trigger
            case copyOfJobId = "copy_of_job_id"
        }

        public var sessionId: String
        public var jobId: String?
        public var jobName: String?
        public var jobVersion: Int64?
        public var trigger: Trigger?
        /// A copy session's source job (absent for a backup session).
        public var copyOfJobId: String?
        public init(
            sessionId: String, jobId: String?, jobName: String?, jobVersion: Int64?, trigger: Trigger?, copyOfJobId: String? = nil
        ) {
            self.sessionId = sessionId
            self.jobId = jobId
            self.jobName = jobName
            self.jobVersion = jobVersion
            self.trigger = trigger
            self.copyOfJobId = copyOfJobId
        }
    }

    public struct EnumeratedVM: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case id, name, diskKeys = "disk_keys"
        }

        public var id: String
        public var name: String
        public var diskKeys: [Int]
        public init(id: String, name: String, diskKeys: [Int]) {
            self.id = id
            self.name = name
            self.diskKeys = diskKeys
        }
    }

    public struct ObjectsEnumerated: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case vms, unmatched
        }

        public var vms: [EnumeratedVM]
        /// The job's selectors (`vm:web-01`) that matched no VM: a warning each, and the
        /// reason the session fails when nothing matched. Absent in events of older versions.
        public var unmatched: [String]?
        public init(vms: [EnumeratedVM], unmatched: [String]? = nil) {
            self.vms = vms
            self.unmatched = unmatched
        }
    }

    /// A proxy the Job Manager considered for a task, and its score (lower wins).
    public struct ProxyCandidate: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case proxyId = "proxy_id", proxyName = "proxy_name", transportMode = "transport_mode", score, reason
        }

        public var proxyId: String
        public var proxyName: String
        public var transportMode: String
        public var score: Double
        public var reason: String
        public init(proxyId: String, proxyName: String, transportMode: String, score: Double, reason: String) {
            self.proxyId = proxyId
            self.proxyName = proxyName
            self.transportMode = transportMode
            self.score = score
            self.reason = reason
        }
    }

    public struct ProxySelected: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case taskId = "task_id", proxyId = "proxy_id", proxyName = "proxy_name", transportMode = "transport_mode", candidates
        }

        public var taskId: String
        public var proxyId: String
        public var proxyName: String
        public var transportMode: String
        public var candidates: [ProxyCandidate]
        public init(taskId: String, proxyId: String, proxyName: String, transportMode: String, candidates: [ProxyCandidate]) {
            self.taskId = taskId
            self.proxyId = proxyId
            self.proxyName = proxyName
            self.transportMode = transportMode
            self.candidates = candidates
        }
    }

    /// `TaskAssigned`: the task's transfer handed to a proxy process (not recorded for the
    /// embedded data mover), under a fencing token larger than any earlier holder's.
    public struct TaskAssigned: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case taskId = "task_id", proxyId = "proxy_id", proxyName = "proxy_name", instanceId = "instance_id", host, token
        }

        public var taskId: String
        public var proxyId: String
        public var proxyName: String
        public var instanceId: String
        public var host: String
        public var token: Int64
        public init(taskId: String, proxyId: String, proxyName: String, instanceId: String, host: String, token: Int64) {
            self.taskId = taskId
            self.proxyId = proxyId
            self.proxyName = proxyName
            self.instanceId = instanceId
            self.host = host
            self.token = token
        }
    }

    /// `TaskReassigned`: the task taken back from the process it was assigned to, and why (the
    /// process's lease ran out, it handed the task back when stopping); it resumes from its
    /// last checkpoint on the next proxy chosen, and is not counted as a failure.
    public struct TaskReassigned: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case taskId = "task_id", proxyId = "proxy_id", proxyName = "proxy_name", instanceId = "instance_id", token, reason
        }

        public var taskId: String
        public var proxyId: String
        public var proxyName: String
        public var instanceId: String
        public var token: Int64
        public var reason: String
        public init(taskId: String, proxyId: String, proxyName: String, instanceId: String, token: Int64, reason: String) {
            self.taskId = taskId
            self.proxyId = proxyId
            self.proxyName = proxyName
            self.instanceId = instanceId
            self.token = token
            self.reason = reason
        }
    }

    public struct TaskStarted: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case taskId = "task_id", vmId = "vm_id", vmName = "vm_name", diskKey = "disk_key", sizeBytes = "size_bytes", attempt
        }

        public var taskId: String
        public var vmId: String
        public var vmName: String
        public var diskKey: Int?
        public var sizeBytes: Int64
        public var attempt: Int
        public init(taskId: String, vmId: String, vmName: String, diskKey: Int?, sizeBytes: Int64, attempt: Int) {
            self.taskId = taskId
            self.vmId = vmId
            self.vmName = vmName
            self.diskKey = diskKey
            self.sizeBytes = sizeBytes
            self.attempt = attempt
        }
    }

    /// Cumulative figures of a task's transfer: `TransferCheckpointed` and `TransferFinished`.
    public struct TransferProgress: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case taskId = "task_id", offset, bytesRead = "bytes_read", bytesTransferred = "bytes_transferred", newChunks = "new_chunks"
            case resumedFromOffset = "resumed_from_offset"
        }

        public var taskId: String
        public var offset: Int64
        public var bytesRead: Int64
        public var bytesTransferred: Int64
        public var newChunks: Int64
        /// `TransferFinished` only: where the run that finished began, when it continued saved
        /// progress (after a crash, or on another proxy); absent when it read from the start.
        public var resumedFromOffset: Int64?
        public init(
            taskId: String, offset: Int64, bytesRead: Int64, bytesTransferred: Int64, newChunks: Int64, resumedFromOffset: Int64? = nil
        ) {
            self.taskId = taskId
            self.offset = offset
            self.bytesRead = bytesRead
            self.bytesTransferred = bytesTransferred
            self.newChunks = newChunks
            self.resumedFromOffset = resumedFromOffset
        }
    }

    public struct TaskFinished: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case taskId = "task_id", result, message
        }

        public var taskId: String
        /// success, warning or failed.
        public var result: Outcome
        public var message: String?
        public init(taskId: String, result: Outcome, message: String? = nil) {
            self.taskId = taskId
            self.result = result
            self.message = message
        }
    }

    public struct RestorePointCreated: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case restorePointId = "restore_point_id", jobId = "job_id", vmId = "vm_id", vmName = "vm_name", disks
            case sizeBytes = "size_bytes", changeId = "change_id", repositoryId = "repository_id", configuration
            case copyOf = "copy_of", gfs
        }

        public var restorePointId: String
        public var jobId: String?
        public var vmId: String
        public var vmName: String?
        public var disks: [String]
        public var sizeBytes: Int64?
        /// The snapshot's change id: the base of the next incremental's changed blocks.
        public var changeId: String?
        /// The repository the point was written to (absent in points recorded before
        /// restores: the job's repository then).
        public var repositoryId: String?
        /// The VM as it was configured when it was backed up (absent in older points).
        public var configuration: VMConfiguration?
        /// A copy's source restore point (absent for a backup's point).
        public var copyOf: String?
        /// A copy's GFS flags: `weekly`, `monthly`, `yearly` when it is the first copied point
        /// of its week, month, year (absent when none).
        public var gfs: [String]?
        public init(
            restorePointId: String, jobId: String?, vmId: String, vmName: String?, disks: [String], sizeBytes: Int64?,
            changeId: String? = nil, repositoryId: String? = nil, configuration: VMConfiguration? = nil
        ) {
            self.repositoryId = repositoryId
            self.configuration = configuration
            self.restorePointId = restorePointId
            self.jobId = jobId
            self.vmId = vmId
            self.vmName = vmName
            self.disks = disks
            self.sizeBytes = sizeBytes
            self.changeId = changeId
        }
    }

    /// `CopyVerified`: a copy session's restore point re-read where it was copied to (every
    /// chunk its manifests name re-hashed by the target), before the point is recorded; with
    /// problems, the point is not recorded and its VM fails with them.
    public struct CopyVerified: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case vmId = "vm_id", restorePointId = "restore_point_id", sourceRestorePointId = "source_restore_point_id", problems
        }

        public var vmId: String
        public var restorePointId: String
        public var sourceRestorePointId: String
        /// Empty when every chunk is sound.
        public var problems: [String]
        public init(vmId: String, restorePointId: String, sourceRestorePointId: String, problems: [String]) {
            self.vmId = vmId
            self.restorePointId = restorePointId
            self.sourceRestorePointId = sourceRestorePointId
            self.problems = problems
        }
    }

    /// `RetentionDeferred`: a restore point retention would remove is in use (published over
    /// NBD right now): kept, and removed by a later retention once it is free.
    public struct RetentionDeferred: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case restorePointId = "restore_point_id", reason
            case removableAt = "removable_at", repositoryId = "repository_id", partial
        }

        public var restorePointId: String
        public var reason: String
        /// When a hardened repository will let the point go, ISO 8601 (absent when it is kept
        /// for a use that has no end date, such as a publish).
        public var removableAt: String?
        /// For a partial point (`partial`): the repository that keeps it.
        public var repositoryId: String?
        /// True for what a failed or stopped session left of a point it never recorded (the
        /// manifests of the disks that finished): no retention would ever name it, so the
        /// retentions on its repository remove it once `removable_at` has passed.
        public var partial: Bool?

        public init(
            restorePointId: String, reason: String, removableAt: String? = nil, repositoryId: String? = nil, partial: Bool? = nil
        ) {
            self.restorePointId = restorePointId
            self.reason = reason
            self.removableAt = removableAt
            self.repositoryId = repositoryId
            self.partial = partial
        }
    }

    public struct RestorePointRemoved: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case restorePointId = "restore_point_id", reason
        }

        public var restorePointId: String
        public var reason: String
        public init(restorePointId: String, reason: String) {
            self.restorePointId = restorePointId
            self.reason = reason
        }
    }

    /// Busy share (0-100) of each stage of the data path over the session.
    public struct Busy: Codable, Sendable, Equatable {
        enum CodingKeys: String, CodingKey {
            case source, proxy, network, target
        }

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

        /// The busiest stage's name.
        public var bottleneck: String {
            [("source", source), ("proxy", proxy), ("network", network), ("target", target)].max { $0.1 < $1.1 }!.0
        }
    }

    public struct Finished: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case result, processedBytes = "processed_bytes", readBytes = "read_bytes", transferredBytes = "transferred_bytes"
            case dedupeRatio = "dedupe_ratio", compressionRatio = "compression_ratio", durationSeconds = "duration_seconds"
            case busy, bottleneck, reason
        }

        public var result: Outcome
        public var processedBytes: Int64
        public var readBytes: Int64
        public var transferredBytes: Int64
        public var dedupeRatio: Double?
        public var compressionRatio: Double?
        public var durationSeconds: Double
        public var busy: Busy?
        public var bottleneck: String?
        /// Why the session did not succeed: the job could not run, which VMs failed and why,
        /// who stopped it, or what the warnings were. Absent on success.
        public var reason: String?
        public init(
            result: Outcome, processedBytes: Int64, readBytes: Int64, transferredBytes: Int64, dedupeRatio: Double?,
            compressionRatio: Double?, durationSeconds: Double, busy: Busy?, bottleneck: String?, reason: String? = nil
        ) {
            self.reason = reason
            self.result = result
            self.processedBytes = processedBytes
            self.readBytes = readBytes
            self.transferredBytes = transferredBytes
            self.dedupeRatio = dedupeRatio
            self.compressionRatio = compressionRatio
            self.durationSeconds = durationSeconds
            self.busy = busy
            self.bottleneck = bottleneck
        }
    }

    /// `SnapshotRequested`: the intent, with the deterministic name a resumed session looks
    /// for when the outcome was never recorded.
    public struct SnapshotRequested: Codable, Sendable {
        public var vmId: String
        public var name: String
        public var quiesce: Bool
        public init(vmId: String, name: String, quiesce: Bool) {
            self.vmId = vmId
            self.name = name
            self.quiesce = quiesce
        }

        enum CodingKeys: String, CodingKey {
            case vmId = "vm_id", name, quiesce
        }
    }

    /// `SnapshotCreated`; `adopted` when a resumed session found it by name instead of making it.
    public struct SnapshotCreated: Codable, Sendable {
        public var vmId: String
        public var name: String
        public var snapshotId: String
        public var changeId: String
        public var adopted: Bool
        /// Whether the guest's applications were quiesced (false: crash-consistent).
        public var quiesced: Bool?
        public init(vmId: String, name: String, snapshotId: String, changeId: String, adopted: Bool, quiesced: Bool? = nil) {
            self.vmId = vmId
            self.name = name
            self.snapshotId = snapshotId
            self.changeId = changeId
            self.adopted = adopted
            self.quiesced = quiesced
        }

        enum CodingKeys: String, CodingKey {
            case vmId = "vm_id", name, snapshotId = "snapshot_id", changeId = "change_id", adopted, quiesced
        }
    }

    /// `SnapshotRemoved`.
    public struct SnapshotRemoved: Codable, Sendable {
        public var vmId: String
        public var snapshotId: String
        public init(vmId: String, snapshotId: String) {
            self.vmId = vmId
            self.snapshotId = snapshotId
        }

        enum CodingKeys: String, CodingKey {
            case vmId = "vm_id", snapshotId = "snapshot_id"
        }
    }

    /// `TransferStarted`: where the disk goes and what it is compared with, fixed before the
    /// first byte so that a resumed transfer uses the same base.
    public struct TransferStarted: Codable, Sendable {
        public var taskId: String
        public var restorePointId: String
        public var disk: String
        public var mode: TransferMode
        public var baseRestorePointId: String?
        public var baseChangeId: String?
        /// The snapshot read: a resume reading another one (the first was removed) starts over.
        public var snapshotId: String?
        /// Why a disk with an earlier restore point is read whole: changed block tracking could
        /// not say what changed since (its change id missing, or refused after a CBT reset).
        /// Absent when the transfer reads what it was meant to, and in older events.
        public var warning: String?
        public init(
            taskId: String, restorePointId: String, disk: String, mode: TransferMode, baseRestorePointId: String?, baseChangeId: String?,
            snapshotId: String? = nil, warning: String? = nil
        ) {
            self.taskId = taskId
            self.restorePointId = restorePointId
            self.disk = disk
            self.mode = mode
            self.baseRestorePointId = baseRestorePointId
            self.baseChangeId = baseChangeId
            self.snapshotId = snapshotId
            self.warning = warning
        }

        enum CodingKeys: String, CodingKey {
            case taskId = "task_id", restorePointId = "restore_point_id", disk, mode
            case baseRestorePointId = "base_restore_point_id", baseChangeId = "base_change_id", snapshotId = "snapshot_id", warning
        }
    }

    /// `RepositoryChecked`.
    public struct RepositoryChecked: Codable, Sendable {
        public var repositoryId: String
        public var path: String
        public var online: Bool
        public var freeBytes: Int64
        public var capacityBytes: Int64
        public var freePercent: Double
        public var thresholdPercent: Int
        public var taskLimit: Int
        /// What the session is expected to write: the most the job's last sessions wrote
        /// (their transferred bytes). Absent when the job has no earlier session, and in
        /// events of older versions.
        public var estimatedBytes: Int64?
        /// Why the free space is close to the threshold once the estimate is written (the
        /// session's result is a warning). Absent otherwise.
        public var warning: String?
        public init(
            repositoryId: String, path: String, online: Bool, freeBytes: Int64, capacityBytes: Int64, freePercent: Double,
            thresholdPercent: Int, taskLimit: Int, estimatedBytes: Int64? = nil, warning: String? = nil
        ) {
            self.estimatedBytes = estimatedBytes
            self.warning = warning
            self.repositoryId = repositoryId
            self.path = path
            self.online = online
            self.freeBytes = freeBytes
            self.capacityBytes = capacityBytes
            self.freePercent = freePercent
            self.thresholdPercent = thresholdPercent
            self.taskLimit = taskLimit
        }

        enum CodingKeys: String, CodingKey {
            case repositoryId = "repository_id", path, online, freeBytes = "free_bytes", capacityBytes = "capacity_bytes"
            case freePercent = "free_percent", thresholdPercent = "threshold_percent", taskLimit = "task_limit"
            case estimatedBytes = "estimated_bytes", warning
        }
    }

    /// `TaskWaited`: a task could not start yet, and why.
    public struct TaskWaited: Codable, Sendable {
        public var taskId: String
        public var reason: String
        public init(taskId: String, reason: String) {
            self.taskId = taskId
            self.reason = reason
        }

        enum CodingKeys: String, CodingKey {
            case taskId = "task_id", reason
        }
    }

    /// `ThrottleApplied`: the throttling rule a task's transfer runs under, and its share.
    public struct ThrottleApplied: Codable, Sendable {
        public var taskId: String
        public var ruleId: String
        public var ruleName: String
        /// The rule's rate divided among the sessions under it when the transfer started.
        public var bytesPerSecond: Int64
        public var sessionsSharing: Int
        public init(taskId: String, ruleId: String, ruleName: String, bytesPerSecond: Int64, sessionsSharing: Int) {
            self.taskId = taskId
            self.ruleId = ruleId
            self.ruleName = ruleName
            self.bytesPerSecond = bytesPerSecond
            self.sessionsSharing = sessionsSharing
        }

        enum CodingKeys: String, CodingKey {
            case taskId = "task_id", ruleId = "rule_id", ruleName = "rule_name", bytesPerSecond = "bytes_per_second"
            case sessionsSharing = "sessions_sharing"
        }
    }
}

extension SessionEvent {
    /// The data fields looked up by name (the event store's log queries, the projections'
    /// one-pass readers), taken from the payloads' coding keys so that each name is spelled
    /// once, where the payload is.
    public enum Field {
        public static let jobId = Started.CodingKeys.jobId.rawValue
        public static let jobName = Started.CodingKeys.jobName.rawValue
        public static let jobVersion = Started.CodingKeys.jobVersion.rawValue
        public static let trigger = Started.CodingKeys.trigger.rawValue
        public static let repositoryId = RepositoryChecked.CodingKeys.repositoryId.rawValue
        public static let restorePointId = RestorePointCreated.CodingKeys.restorePointId.rawValue
        public static let copyOf = RestorePointCreated.CodingKeys.copyOf.rawValue
        public static let gfs = RestorePointCreated.CodingKeys.gfs.rawValue
        public static let copyOfJobId = Started.CodingKeys.copyOfJobId.rawValue
        public static let deferredRepositoryId = RetentionDeferred.CodingKeys.repositoryId.rawValue
        public static let taskId = TaskStarted.CodingKeys.taskId.rawValue
        public static let vmId = TaskStarted.CodingKeys.vmId.rawValue
        public static let vmName = TaskStarted.CodingKeys.vmName.rawValue
        public static let sizeBytes = TaskStarted.CodingKeys.sizeBytes.rawValue
        public static let diskKey = TaskStarted.CodingKeys.diskKey.rawValue
        public static let attempt = TaskStarted.CodingKeys.attempt.rawValue
        public static let vms = ObjectsEnumerated.CodingKeys.vms.rawValue
        public static let disks = RestorePointCreated.CodingKeys.disks.rawValue
        public static let busy = Finished.CodingKeys.busy.rawValue
        public static let proxyId = ProxySelected.CodingKeys.proxyId.rawValue
        public static let proxyName = ProxySelected.CodingKeys.proxyName.rawValue
        public static let transportMode = ProxySelected.CodingKeys.transportMode.rawValue
        public static let candidates = ProxySelected.CodingKeys.candidates.rawValue
        public static let host = TaskAssigned.CodingKeys.host.rawValue
        public static let offset = TransferProgress.CodingKeys.offset.rawValue
        public static let bytesRead = TransferProgress.CodingKeys.bytesRead.rawValue
        public static let bytesTransferred = TransferProgress.CodingKeys.bytesTransferred.rawValue
        public static let newChunks = TransferProgress.CodingKeys.newChunks.rawValue
        public static let message = TaskFinished.CodingKeys.message.rawValue
        public static let result = Finished.CodingKeys.result.rawValue
        public static let reason = Finished.CodingKeys.reason.rawValue
        public static let bottleneck = Finished.CodingKeys.bottleneck.rawValue
        public static let processedBytes = Finished.CodingKeys.processedBytes.rawValue
        public static let readBytes = Finished.CodingKeys.readBytes.rawValue
        public static let transferredBytes = Finished.CodingKeys.transferredBytes.rawValue
        public static let dedupeRatio = Finished.CodingKeys.dedupeRatio.rawValue
        public static let compressionRatio = Finished.CodingKeys.compressionRatio.rawValue
        public static let durationSeconds = Finished.CodingKeys.durationSeconds.rawValue
    }
}
