import BlockingIO
import Catalog
import CatalogStore
import Foundation
import Postgres
import Repository
import WorkflowEvents

extension CopySessionRunner {
    /// One VM's copy, tried again like a backup's VM: a failed attempt (a read, a send or the
    /// verification at the target) waits the job's retry wait and copies again — a chunk the
    /// target found corrupt was set aside there, so the next attempt sends it again.
    func copyRetried(
        _ vm: SessionEvent.EnumeratedVM, source: RestorePointRecord, throttle: CopyThrottle?, stores: inout SourceStores
    ) async throws -> VMOutcome {
        while true {
            do {
                return try await copyMachine(vm, source: source, throttle: throttle, stores: &stores)
            } catch is CancellationError {
                throw CancellationError()
            } catch let error where !(error is PostgresError) {
                // Database trouble leaves the session unfinished, to be resumed; anything else
                // fails this attempt of the VM with the reason.
                logger.error("copy failed", metadata: ["vm": "\(vm.name)", "error": "\(error)"])
                try await failTasks(of: vm, "\(error)")
            }
            let tasks = await recorder.state.tasks
            let failures = vm.diskKeys.map { tasks["\(vm.id)/\($0)"]?.failures ?? 0 }.max() ?? 0
            guard failures <= job.retry.count else { return .failed }
            try await Task.sleep(for: context.settings.retryWait ?? .seconds(job.retry.waitMinutes * 60))
        }
    }

    /// Copies each disk not copied yet, verifies the point at the target, records it.
    private func copyMachine(
        _ vm: SessionEvent.EnumeratedVM, source: RestorePointRecord, throttle: CopyThrottle?, stores: inout SourceStores
    ) async throws -> VMOutcome {
        let copyID = "\(vm.id)-\(shortSession)"
        if await recorder.state.restorePoints[vm.id] != nil { return await outcome(of: vm) }
        let point = source.point
        let from = try await stores.open(point.repositoryId, sourceJob: copy.source)
        let target = self.target
        for disk in source.disks {
            let taskID = "\(vm.id)/\(disk.key)"
            let task = await recorder.state.tasks[taskID]
            if task?.finished != nil && task?.transfer?.restorePointId == copyID && task?.result != .failed { continue }
            let manifest = try await BlockingIOPool.shared.run { () throws(RepositoryError) in
                try from.manifest(restorePoint: point.restorePointId, disk: disk.name)
            }
            try await recorder.record(
                [
                    try SessionRecorder.Entry(
                        .taskStarted,
                        SessionEvent.TaskStarted(
                            taskId: taskID, vmId: vm.id, vmName: vm.name, diskKey: disk.key, sizeBytes: manifest.diskSize,
                            attempt: (task?.attempt ?? 0) + 1)),
                    try SessionRecorder.Entry(
                        .transferStarted,
                        SessionEvent.TransferStarted(
                            taskId: taskID, restorePointId: copyID, disk: disk.name, mode: .other("copy"),
                            baseRestorePointId: point.restorePointId, baseChangeId: nil)),
                ] + (throttle.map { [try SessionRecorder.Entry(.throttleApplied, $0.applied(to: taskID))] } ?? []))
            let figures = try await BlockingIOPool.shared.run { () throws(RepositoryError) -> DiskCopy.Figures in
                let hold = try target.beginTransfer(fence: nil)
                defer { hold.release() }
                var copier = DiskCopy(from: from, to: target)
                if let bucket = throttle?.bucket { copier.pace = { bucket.takeBlocking($0) } }
                return try copier.copy(manifest, as: copyID, hold: hold)
            }
            try await recorder.record(
                .transferFinished,
                SessionEvent.TransferProgress(
                    taskId: taskID, offset: manifest.diskSize, bytesRead: figures.bytesRead, bytesTransferred: figures.bytesSent,
                    newChunks: figures.chunksSent))
        }
        let problems = try await BlockingIOPool.shared.run { () throws(RepositoryError) in try target.verifyRestorePoint(copyID) }
        try await recorder.record(
            .copyVerified,
            SessionEvent.CopyVerified(vmId: vm.id, restorePointId: copyID, sourceRestorePointId: point.restorePointId, problems: problems))
        guard problems.isEmpty else {
            let shown = problems.prefix(3).joined(separator: "; ") + (problems.count > 3 ? "; and \(problems.count - 3) more" : "")
            throw JobManagerError(
                .interrupted, "the copy \(copyID) could not be verified at '\(plan.repository.name)', so it is not recorded: \(shown)")
        }
        let flags = try await gfsFlags(vm: vm.id)
        var created = point
        created.restorePointId = copyID
        created.jobId = jobID
        created.repositoryId = plan.repositoryID
        created.changeId = nil
        created.copyOf = point.restorePointId
        created.gfs = flags.isEmpty ? nil : flags.sorted().map(\.rawValue)
        try await recorder.record(
            vm.diskKeys.map {
                try SessionRecorder.Entry(.taskFinished, SessionEvent.TaskFinished(taskId: "\(vm.id)/\($0)", result: .success))
            } + [try SessionRecorder.Entry(.restorePointCreated, created)])
        return await outcome(of: vm)
    }

    /// A VM copied after a retry is a warning, as a backup's is.
    private func outcome(of vm: SessionEvent.EnumeratedVM) async -> VMOutcome {
        let tasks = await recorder.state.tasks
        return vm.diskKeys.contains { (tasks["\(vm.id)/\($0)"]?.failures ?? 0) > 0 } ? .warning : .success
    }

    /// The GFS periods a copy recorded now is the first of, among the VM's live copies.
    private func gfsFlags(vm: String) async throws -> Set<GFSPeriod> {
        guard copy.gfs != nil else { return [] }
        let existing = try await copyPoints().filter { $0.vm == vm }.map { $0.point }
        return retentionRule.flags(at: Date(), existing: existing)
    }
}

/// The repositories source points are read from, each opened once per session.
struct SourceStores {
    let context: SessionContext
    private var opened: [String: any RepositoryStore] = [:]

    init(context: SessionContext) {
        self.context = context
    }

    /// `id`: the repository a point names (nil in points recorded before they named one:
    /// the source job's repository then).
    mutating func open(_ named: String?, sourceJob: String) async throws -> any RepositoryStore {
        if let named, let store = opened[named] { return store }
        let catalog = try await CatalogStore(events: context.store).load()
        guard let id = named ?? catalog.jobs[sourceJob]?.definition.repository else {
            throw JobManagerError(.invalidJob, "the job to copy, \(catalog.label(.job, sourceJob)), is no longer in the catalog")
        }
        if let store = opened[id] { return store }
        guard let definition = catalog.repositories[id]?.definition else {
            throw JobManagerError(
                .repositoryUnavailable,
                "the repository \(catalog.label(.repository, id)) holding the points to copy is no longer in the catalog")
        }
        let store: any RepositoryStore
        if let folder = definition.folderURL {
            store = try await BlockingIOPool.shared.run { () throws(RepositoryError) in try BackupRepository.open(at: folder) }
        } else {
            store = try await definition.openService(id: id, settings: context.settings)
        }
        opened[id] = store
        return store
    }
}
