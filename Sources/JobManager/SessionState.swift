import Catalog
import EventStore
import Foundation
import WorkflowEvents

/// A session folded from its stream: what happened so far, so that a Job Manager started
/// again (after a crash, on another server) decides the next step from facts, not memory.
public struct SessionState: Sendable {
    public struct Snapshot: Sendable {
        public var requested: SessionEvent.SnapshotRequested?
        public var created: SessionEvent.SnapshotCreated?
        public var removed = false
    }

    public struct TaskRecord: Sendable {
        /// The last attempt started (0: none).
        public var attempt = 0
        public var transfer: SessionEvent.TransferStarted?
        public var finished: SessionEvent.TransferProgress?
        /// The last attempt's result, once it ended.
        public var result: SessionEvent.Outcome?
        public var failures = 0
        /// Why the last failed attempt failed.
        public var failureMessage: String?
        /// The proxy process holding the transfer now, if one was assigned it and it was not
        /// taken back since: a resumed session reattaches to it rather than start again.
        public var assigned: SessionEvent.TaskAssigned?
    }

    public private(set) var started: SessionEvent.Started?
    public private(set) var vms: [SessionEvent.EnumeratedVM]?
    /// The job's selectors that matched no VM at enumeration.
    public private(set) var unmatchedSelectors: [String] = []
    public private(set) var repositoryChecked: SessionEvent.RepositoryChecked?
    public private(set) var snapshots: [String: Snapshot] = [:]
    public private(set) var tasks: [String: TaskRecord] = [:]
    /// Restore points created, by VM id.
    public private(set) var restorePoints: [String: String] = [:]
    /// Restore points whose guest files this session began to index, and what each indexing found.
    public private(set) var guestIndexStarted: Set<String> = []
    public private(set) var guestIndexes: [String: SessionEvent.GuestIndexFinished] = [:]
    public private(set) var removedRestorePoints: Set<String> = []
    /// A copy session's verifications at the target, the last by VM id.
    public private(set) var copyVerifications: [String: SessionEvent.CopyVerified] = [:]
    public private(set) var finished: SessionEvent.Finished?
    /// The stream's version: events folded.
    public private(set) var version: Int64 = 0

    public init() {}

    public init(events: [RecordedEvent]) {
        for event in events { apply(type: event.type, data: event.data, version: event.streamVersion) }
    }

    /// Folds one event of the session's stream (`version`: its stream version).
    public mutating func apply(type: String, data text: String, version: Int64) {
        self.version = version
        guard let kind = SessionEvent.Kind(rawValue: type) else { return }
        let decoder = SessionEvent.decoder()
        let data = Data(text.utf8)
        func decode<T: Decodable>(_ type: T.Type) -> T? { try? decoder.decode(type, from: data) }
        switch kind {
        case .sessionStarted: started = decode(SessionEvent.Started.self)
        case .objectsEnumerated:
            let enumerated = decode(SessionEvent.ObjectsEnumerated.self)
            vms = enumerated?.vms
            unmatchedSelectors = enumerated?.unmatched ?? []
        case .repositoryChecked: repositoryChecked = decode(SessionEvent.RepositoryChecked.self)
        case .snapshotRequested:
            if let requested = decode(SessionEvent.SnapshotRequested.self) {
                snapshots[requested.vmId, default: Snapshot()].requested = requested
            }
        case .snapshotCreated:
            if let created = decode(SessionEvent.SnapshotCreated.self) {
                snapshots[created.vmId, default: Snapshot()].created = created
                snapshots[created.vmId]!.removed = false
            }
        case .snapshotRemoved:
            if let removed = decode(SessionEvent.SnapshotRemoved.self) { snapshots[removed.vmId, default: Snapshot()].removed = true }
        case .taskStarted:
            if let started = decode(SessionEvent.TaskStarted.self) {
                tasks[started.taskId, default: TaskRecord()].attempt = started.attempt
                tasks[started.taskId]!.result = nil
                tasks[started.taskId]!.finished = nil
            }
        case .taskAssigned:
            if let assigned = decode(SessionEvent.TaskAssigned.self) { tasks[assigned.taskId, default: TaskRecord()].assigned = assigned }
        case .taskReassigned:
            if let taken = decode(SessionEvent.TaskReassigned.self), tasks[taken.taskId]?.assigned?.token == taken.token {
                tasks[taken.taskId]!.assigned = nil
            }
        case .transferStarted:
            if let transfer = decode(SessionEvent.TransferStarted.self) {
                tasks[transfer.taskId, default: TaskRecord()].transfer = transfer
            }
        case .transferFinished:
            if let progress = decode(SessionEvent.TransferProgress.self) {
                tasks[progress.taskId, default: TaskRecord()].finished = progress
            }
        case .taskFinished:
            if let end = decode(SessionEvent.TaskFinished.self) {
                tasks[end.taskId, default: TaskRecord()].result = end.result
                tasks[end.taskId]!.assigned = nil
                if end.result == .failed {
                    tasks[end.taskId]!.failures += 1
                    tasks[end.taskId]!.failureMessage = end.message
                }
            }
        case .restorePointCreated:
            if let point = decode(SessionEvent.RestorePointCreated.self) { restorePoints[point.vmId] = point.restorePointId }
        case .restorePointRemoved:
            if let removed = decode(SessionEvent.RestorePointRemoved.self) { removedRestorePoints.insert(removed.restorePointId) }
        case .sessionFinished: finished = decode(SessionEvent.Finished.self)
        case .copyVerified:
            if let verified = decode(SessionEvent.CopyVerified.self) { copyVerifications[verified.vmId] = verified }
        case .guestIndexStarted:
            if let started = decode(SessionEvent.GuestIndexStarted.self) { guestIndexStarted.insert(started.restorePointId) }
        case .guestIndexFinished:
            if let finished = decode(SessionEvent.GuestIndexFinished.self) { guestIndexes[finished.restorePointId] = finished }
        case .taskWaited, .applicationProcessed, .throttleApplied, .transferCheckpointed, .proxySelected, .retentionDeferred:
            break
        }
    }
}
