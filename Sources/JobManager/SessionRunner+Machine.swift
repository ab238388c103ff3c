import Catalog
import DataMover
import Foundation
import Infrastructure
import Repository
import WorkflowEvents

/// How a VM ended in the session.
enum VMOutcome: Sendable, Equatable {
    case success
    /// Backed up, after a retry or without application consistency.
    case warning
    case failed
    /// Not started, or cut short, because a person stopped the session.
    case stopped
}

extension SessionRunner {
    /// Steps 4 to 6 for one VM: snapshot, its disks (each a task, retried per the job),
    /// snapshot removal, restore point. `transfersEnded` is called once its disks' transfers
    /// ended, before the snapshot's removal.
    func process(
        _ vm: ObjectExpansion.Selected, inventory: Inventory, previous: SessionEvent.RestorePointCreated?,
        transfersEnded: @Sendable () -> Void
    ) async throws
        -> VMOutcome
    {
        let machine = vm.machine
        if await recorder.state.restorePoints[machine.id] != nil {
            let tasks = await recorder.state.tasks.filter { $0.key.hasPrefix(machine.id + "/") }.values
            return tasks.contains { $0.failures > 0 || $0.transfer?.warning != nil } ? .warning : .success
        }
        // A stopped session starts no VM; one stopped immediately leaves the VM in progress.
        let begun = await recorder.state.snapshots[machine.id]?.requested != nil
        if stop.requested != nil && !begun { return .stopped }
        do {
            return try await backUp(vm, inventory: inventory, previous: previous, transfersEnded: transfersEnded)
        } catch is CancellationError {
            // Cancelled by an immediate stop: the snapshot goes, no restore point. Cancelled by
            // a shutdown: everything stays as it is for the resume.
            guard stop.requested?.mode == .immediate else { throw CancellationError() }
            try await removeSnapshot(machine)
            return .stopped
        }
    }

    private func backUp(
        _ vm: ObjectExpansion.Selected, inventory: Inventory, previous: SessionEvent.RestorePointCreated?,
        transfersEnded: @Sendable () -> Void
    ) async throws
        -> VMOutcome
    {
        let machine = vm.machine
        guard let firstDisk = vm.disks.first else { return .failed }
        guard let (snapshot, warning) = try await snapshotRetried(vm) else { return .failed }
        var results: [String: TaskResult] = [:]
        if job.parallelProcessing {
            try await withThrowingTaskGroup(of: (String, TaskResult).self) { group in
                for disk in vm.disks {
                    group.addTask {
                        (
                            Self.taskID(machine, disk),
                            try await self.processDisk(machine, disk, snapshot: snapshot, inventory: inventory, previous: previous)
                        )
                    }
                }
                for try await (id, result) in group { results[id] = result }
            }
        } else {
            for disk in vm.disks {
                results[Self.taskID(machine, disk)] = try await processDisk(
                    machine, disk, snapshot: snapshot, inventory: inventory, previous: previous)
            }
        }
        transfersEnded()
        guard results.values.allSatisfy({ $0.succeeded }) else {
            try await removeSnapshot(machine)
            return stop.requested == nil ? .failed : .stopped
        }
        let disks = vm.disks.map { "disk-\($0.key)" }
        let restorePoint =
            await recorder.state.tasks[Self.taskID(machine, firstDisk)]?.transfer?.restorePointId
            ?? "\(machine.id)-\(shortSession)"
        // The snapshot's removal and the restore point are one append: a crash between them
        // would make a resume take a new snapshot and record its (later) change id.
        try await removeSnapshot(
            machine,
            with: [
                try SessionRecorder.Entry(
                    .restorePointCreated,
                    SessionEvent.RestorePointCreated(
                        restorePointId: restorePoint, jobId: jobID, vmId: machine.id, vmName: machine.name, disks: disks,
                        sizeBytes: vm.disks.reduce(0) { $0 + $1.capacity }, changeId: snapshot.changeId,
                        repositoryId: plan.repositoryID,
                        configuration: RecordedConfiguration.of(machine, disks: machine.disks, in: inventory)))
            ])
        // A disk read whole because changed block tracking could not say what changed is a
        // warning too (Veeam's "CBT data is invalid, failing over to legacy incremental").
        let fellBack = await recorder.state.tasks.contains { $0.key.hasPrefix(machine.id + "/") && $0.value.transfer?.warning != nil }
        return warning || fellBack || results.values.contains { $0.retried } ? .warning : .success
    }

    static func taskID(_ machine: VirtualMachine, _ disk: VirtualDisk) -> String { "\(machine.id)/\(disk.key)" }

    /// The VM's snapshot, tried again like its disks: a failed attempt fails every disk not
    /// yet done with the reason (so the log and the report say why, and the retry count is
    /// the tasks' own, resumable one), then waits the job's retry wait; nil once the retries
    /// are spent or a stop was asked.
    private func snapshotRetried(_ vm: ObjectExpansion.Selected) async throws -> (SessionEvent.SnapshotCreated, Bool)? {
        let machine = vm.machine
        while true {
            do {
                return try await ensureSnapshot(machine, disks: vm.disks)
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                logger.error("snapshot failed", metadata: ["vm": "\(machine.name)", "error": "\(secrets.scrub("\(error)"))"])
                let tasks = await recorder.state.tasks
                let undone = vm.disks.filter { tasks[Self.taskID(machine, $0)]?.result != .success }
                try await recorder.record(
                    undone.map {
                        try SessionRecorder.Entry(
                            .taskFinished,
                            SessionEvent.TaskFinished(taskId: Self.taskID(machine, $0), result: .failed, message: "snapshot: \(error)"))
                    })
                let recorded = await recorder.state.tasks
                let failures = undone.map { recorded[Self.taskID(machine, $0)]?.failures ?? 0 }.min() ?? 0
                guard failures <= job.retry.count, stop.requested == nil else { return nil }
                try await Task.sleep(for: settings.retryWait ?? .seconds(job.retry.waitMinutes * 60))
            }
        }
    }

    /// The VM's snapshot for this session: recorded, or found by its name when only the
    /// intent was recorded, or made now. Application-aware processing per the job.
    func ensureSnapshot(_ machine: VirtualMachine, disks: [VirtualDisk]) async throws -> (SessionEvent.SnapshotCreated, Bool) {
        let name = "tidemark-\(shortSession)-\(machine.id)"
        let known = await recorder.state.snapshots[machine.id]
        let crashConsistent = job.applicationAware != .off && known?.created?.quiesced == false
        if let created = known?.created, known?.removed == false { return (created, crashConsistent) }
        // Every disk done already: the recorded snapshot is the one the data came from.
        let tasks = await recorder.state.tasks
        if let created = known?.created, disks.allSatisfy({ tasks[Self.taskID(machine, $0)]?.result == .success }) {
            return (created, crashConsistent)
        }
        if known?.requested != nil, let found = try await adapter.snapshots(of: machine.id).first(where: { $0.name == name }) {
            let adopted = SessionEvent.SnapshotCreated(
                vmId: machine.id, name: name, snapshotId: found.id, changeId: found.changeID, adopted: true, quiesced: found.quiesced)
            try await recorder.record(.snapshotCreated, adopted)
            return (adopted, job.applicationAware != .off && !found.quiesced)
        }
        let quiesce = job.applicationAware != .off
        // An intent recorded before a crash, with no snapshot made, stands: record it once.
        if known?.requested == nil || known?.created != nil {
            try await recorder.record(.snapshotRequested, SessionEvent.SnapshotRequested(vmId: machine.id, name: name, quiesce: quiesce))
        }
        var warning = false
        let info: SnapshotInfo
        do {
            info = try await adapter.createSnapshot(
                vm: machine.id, name: name, description: "Tidemark session \(session)", quiesce: quiesce)
        } catch {
            guard let failure = error as? InfrastructureError, failure.code == .quiesceFailed, job.applicationAware == .ignoreFailures
            else {
                throw error
            }
            // Ignore failures: fall back to a crash-consistent snapshot, and say so.
            logger.warning("application-aware processing failed; crash-consistent snapshot", metadata: ["vm": "\(machine.name)"])
            info = try await adapter.createSnapshot(vm: machine.id, name: name, description: "Tidemark session \(session)", quiesce: false)
            warning = true
        }
        let created = SessionEvent.SnapshotCreated(
            vmId: machine.id, name: name, snapshotId: info.id, changeId: info.changeID, adopted: false, quiesced: info.quiesced)
        try await recorder.record(.snapshotCreated, created)
        return (created, warning)
    }

    /// Removes the session's snapshot of the VM if it is still there, and records it once,
    /// together with `entries` (in the same append).
    func removeSnapshot(_ machine: VirtualMachine, with entries: [SessionRecorder.Entry] = []) async throws {
        guard let known = await recorder.state.snapshots[machine.id], let created = known.created, !known.removed else {
            try await recorder.record(entries)
            return
        }
        if try await adapter.snapshots(of: machine.id).contains(where: { $0.id == created.snapshotId }) {
            try await adapter.removeSnapshot(vm: machine.id, snapshot: created.snapshotId)
        }
        try await recorder.record(
            [try SessionRecorder.Entry(.snapshotRemoved, SessionEvent.SnapshotRemoved(vmId: machine.id, snapshotId: created.snapshotId))]
                + entries)
    }
}
