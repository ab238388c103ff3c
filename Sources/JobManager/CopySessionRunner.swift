import BlockingIO
import Catalog
import CatalogStore
import EventStore
import Foundation
import Logging
import Repository
import WorkflowEvents

/// A backup copy job's session: per VM of the source job, its newest restore point not yet
/// copied is copied into the copy job's repository (only the chunks it lacks), verified there,
/// and only then recorded as the copy job's restore point, with its GFS flags; then the copy
/// job's retention. It needs no vCenter: it reads restore points, not VMs.
///
/// The same steps as a backup, in the same events: `ObjectsEnumerated` (the VMs with a point
/// to copy), `RepositoryChecked` (the target), per disk `TaskStarted` → `TransferStarted`
/// (mode `copy`, the source point as its base) → `TransferFinished`, then per VM
/// `CopyVerified` → `TaskFinished` → `RestorePointCreated` (`copy_of`, `gfs`), retention,
/// `SessionFinished` with the statistics. A crash anywhere resumes from the facts: a disk
/// whose transfer finished is not copied again, one that did not is copied again (the chunks
/// already sent are not sent twice), a point verified is recorded.
final class CopySessionRunner: Sendable {
    let context: SessionContext
    let plan: SessionPlan
    let copy: BackupCopy
    let session: String
    let recorder: SessionRecorder
    let slots: TaskSlots
    let target: any RepositoryStore
    let logger: Logger
    let startedAt: Date

    var job: JobDefinition { plan.job }
    var jobID: UUIDString { plan.jobID }

    init(
        context: SessionContext, plan: SessionPlan, target: any RepositoryStore, state: SessionState, startedAt: Date, slots: TaskSlots
    )
        throws
    {
        guard let copy = plan.job.copy else { throw JobManagerError(.invalidJob, "job '\(plan.job.name)' is not a copy job") }
        self.context = context
        self.plan = plan
        self.copy = copy
        self.session = plan.session
        self.target = target
        self.startedAt = startedAt
        self.slots = slots
        self.recorder = try context.recorder(for: plan, state: state)
        self.logger = context.logger(for: plan)
    }

    var shortSession: String { String(session.prefix(8)) }

    func run() async throws -> SessionReport {
        if let finished = await recorder.state.finished { return await report(finished) }
        let sources = try await sourcePoints()
        if await recorder.state.vms == nil {
            let vms = sources.values.sorted { ($0.point.vmName ?? "", $0.point.vmId) < ($1.point.vmName ?? "", $1.point.vmId) }.map {
                SessionEvent.EnumeratedVM(
                    id: $0.point.vmId, name: $0.point.vmName ?? $0.point.vmId, diskKeys: $0.disks.map { disk in disk.key })
            }
            try await recorder.record(.objectsEnumerated, SessionEvent.ObjectsEnumerated(vms: vms))
        }
        let vms = await recorder.state.vms ?? []
        // The target's reachability and room (step 3), recorded once; a copy writes at most
        // what its points hold, so no estimate from earlier sessions is asked for.
        let verdict = try await RepositorySpace.check(
            target, id: plan.repositoryID, definition: plan.repository, recorder: recorder, logger: logger, estimatedBytes: { nil })
        if case .refused(let reason) = verdict { return try await finish(outcomes: [:], failedReason: reason) }
        let throttle = try await throttle()
        let stop = StopSignal()
        let outcomes = try await context.stopRequests.watching(session) { recorded, later in
            if let request = StopRequest.mostForceful(recorded) { stop.request(request) }
            let watcher = Task { for await request in later { stop.request(request) } }
            defer { watcher.cancel() }
            return try await copyAll(vms, sources: sources, throttle: throttle, stop: stop)
        }
        if let request = stop.requested {
            return try await finish(outcomes: outcomes, failedReason: nil, stopped: "stopped by \(request.by) (\(request.mode.rawValue))")
        }
        if !outcomes.values.contains(.failed) { try await applyRetention() }
        return try await finish(outcomes: outcomes, failedReason: nil)
    }

    /// The VMs one after another; a stop (graceful or immediate) starts no further VM, and the
    /// disk being copied finishes first.
    private func copyAll(
        _ vms: [SessionEvent.EnumeratedVM], sources: [String: RestorePointRecord], throttle: CopyThrottle?, stop: StopSignal
    ) async throws -> [String: VMOutcome] {
        var outcomes: [String: VMOutcome] = [:]
        var stores = SourceStores(context: context)
        for vm in vms {
            if Task.isCancelled { throw CancellationError() }
            if stop.requested != nil { break }
            guard let source = sources[vm.id] else {
                outcomes[vm.id] = .failed
                try await failTasks(of: vm, "its restore point to copy is no longer in the log (removed by the source job's retention)")
                continue
            }
            outcomes[vm.id] = try await copyRetried(vm, source: source, throttle: throttle, stores: &stores)
        }
        return outcomes
    }

    /// Per VM of the source job, the point to copy: the one this session began to copy (its
    /// transfers name it), else the newest live point with no live copy yet.
    func sourcePoints() async throws -> [String: RestorePointRecord] {
        let state = await recorder.state
        var begun: [String: String] = [:]
        for task in state.tasks.values {
            if let transfer = task.transfer, let base = transfer.baseRestorePointId {
                begun[String(transfer.taskId.prefix { $0 != "/" })] = base
            }
        }
        let copied = Set(
            try await context.store.liveRestorePoints(job: jobID, outside: SessionEvent.stream(of: session)).compactMap {
                Self.decode($0)?.copyOf
            })
        var chosen: [String: RestorePointRecord] = [:]
        for row in try await context.store.liveRestorePoints(job: copy.source) {
            guard let point = Self.decode(row), let sessionID = SessionEvent.session(inStream: row.stream) else { continue }
            let record = RestorePointRecord(point: point, session: sessionID, createdAt: row.recordedAt)
            if let wanted = begun[point.vmId] {
                if point.restorePointId == wanted { chosen[point.vmId] = record }
            } else if !copied.contains(point.restorePointId) {
                // Oldest first: the last one kept is the newest.
                chosen[point.vmId] = record
            } else {
                chosen[point.vmId] = nil
            }
        }
        return chosen
    }

    static func decode(_ row: LogQuery.Row) -> SessionEvent.RestorePointCreated? {
        try? SessionEvent.decoder().decode(SessionEvent.RestorePointCreated.self, from: Data(row.data.utf8))
    }

    /// Fails every disk of a VM not yet done, with the reason.
    func failTasks(of vm: SessionEvent.EnumeratedVM, _ message: String) async throws {
        let tasks = await recorder.state.tasks
        try await recorder.record(
            vm.diskKeys.filter { tasks["\(vm.id)/\($0)"]?.result != .success }.map {
                try SessionRecorder.Entry(
                    .taskFinished, SessionEvent.TaskFinished(taskId: "\(vm.id)/\($0)", result: .failed, message: message))
            })
    }
}
