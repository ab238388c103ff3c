import BlockingIO
import Catalog
import CatalogStore
import EventStore
import Foundation
import Infrastructure
import Repository
import WorkflowEvents

extension SessionRunner {
    /// No VM keeps a snapshot of this session, whatever happened before a crash: any left
    /// under the session's deterministic name is removed (and recorded).
    func sweepOrphanedSnapshots(_ selected: [ObjectExpansion.Selected]) async throws {
        for vm in selected {
            let name = "tidemark-\(shortSession)-\(vm.machine.id)"
            for orphan in try await adapter.snapshots(of: vm.machine.id) where orphan.name == name {
                try await adapter.removeSnapshot(vm: vm.machine.id, snapshot: orphan.id)
                let recorded = await recorder.state.snapshots[vm.machine.id]
                if recorded?.created?.snapshotId != orphan.id || recorded?.removed == false {
                    try await recorder.record(.snapshotRemoved, SessionEvent.SnapshotRemoved(vmId: vm.machine.id, snapshotId: orphan.id))
                }
            }
        }
    }

    /// Retention after a session without failed VMs: per VM of the job, restore points
    /// beyond the job's count (``CountRetention``: under two-person approval, points of
    /// sessions started by hand do not push out the schedule's) or older than its days are
    /// deleted, each recorded once, then unreferenced chunks are collected. Deleting first and
    /// recording after makes a crash in between harmless: the next run finds the point gone
    /// and records it.
    func applyRetention() async throws {
        var perVM: [String: [(id: String, at: Date, stream: String)]] = [:]
        for row in try await context.store.liveRestorePoints(job: jobID) {
            guard let point = try? SessionEvent.decoder().decode(SessionEvent.RestorePointCreated.self, from: Data(row.data.utf8)) else {
                continue
            }
            perVM[point.vmId, default: []].append((point.restorePointId, row.recordedAt, row.stream))
        }
        var doomed: [(String, String)] = []
        switch job.retention.unit {
        case .restorePoints:
            let catalog = CatalogStore(events: context.store)
            let guarded = try await ApprovalStore(catalog: catalog).isRequired()
            let rule = CountRetention(
                keep: job.retention.count, guarded: guarded,
                scheduled: guarded ? CountRetention.startsOnItsOwn(jobID, in: try await catalog.load()) : true)
            let triggers =
                rule.guarded ? try await context.store.sessionTriggers(streams: Array(Set(perVM.values.joined().map(\.stream)))) : [:]
            let now = Date()
            for points in perVM.values {
                let described = points.map {
                    CountRetention.Point(id: $0.id, recordedAt: $0.at, byHand: triggers[$0.stream]?.isByHand == true)
                }
                doomed += rule.doomed(described, now: now).map { ($0, rule.reason) }
            }
        case .days:
            let limit = Date().addingTimeInterval(-Double(job.retention.count) * 86_400)
            for points in perVM.values {
                doomed += points.dropLast().filter { $0.at < limit }.map { ($0.id, "retention: keep \(job.retention.count) days") }
            }
        }
        try await RetentionRemoval(
            store: context.store, recorder: recorder, repository: repository, repositoryID: repositoryID, slots: slots, logger: logger,
            staleProgressAge: settings.staleProgressAge
        ).remove(doomed)
    }

    /// Step 7: the statistics, from the recorded ends of the tasks (so each byte counts once,
    /// however many times the session was resumed), and the result.
    func finish(outcomes: [String: VMOutcome], failedReason: String?, stopped: String? = nil) async throws -> SessionReport {
        let state = await recorder.state
        let finishedTasks = state.tasks.values.filter { $0.result == .success }.compactMap(\.finished)
        let read = finishedTasks.reduce(Int64(0)) { $0 + $1.bytesRead }
        let transferred = finishedTasks.reduce(Int64(0)) { $0 + $1.bytesTransferred }
        let newData = finishedTasks.reduce(Int64(0)) { $0 + $1.newChunks } * Int64(job.blockSizeBytes)
        let processed = finishedTasks.reduce(Int64(0)) { $0 + $1.offset }
        let result: SessionEvent.Outcome
        if stopped != nil {
            result = .stopped
        } else if failedReason != nil || outcomes.values.contains(.failed) || (outcomes.isEmpty && !(state.vms ?? []).isEmpty) {
            result = .failed
        } else if outcomes.values.contains(.warning) || !state.unmatchedSelectors.isEmpty || state.repositoryChecked?.warning != nil
            || state.guestIndexes.values.contains(where: { $0.result == .warning })
        {
            result = .warning
        } else {
            result = .success
        }
        let machines = Self.machines(in: state, result: result, job: job)
        let indexWarnings = state.guestIndexes.values.compactMap(\.message).sorted()
        let reasons =
            [Self.sessionReason(machines: machines, unmatched: state.unmatchedSelectors), state.repositoryChecked?.warning]
            + indexWarnings.map { Optional($0) }
        let reason = stopped ?? failedReason ?? reasons.compactMap { $0 }.joined(separator: "; ")
        // No task of the session runs any more: a proxy process still holding one (the session
        // was stopped, or abandoned) is refused at its next report.
        try await mailbox.closeAll(session: session)
        try await collectOwnGarbage(state)
        let seconds = Date().timeIntervalSince(startedAt)
        func ratio(_ a: Int64, _ b: Int64) -> Double? { b > 0 ? (Double(a) / Double(b) * 100).rounded() / 100 : nil }
        let busy = stageTimes.busy
        let finished = SessionEvent.Finished(
            result: result, processedBytes: processed, readBytes: read, transferredBytes: transferred,
            dedupeRatio: ratio(read, newData), compressionRatio: ratio(newData, transferred),
            durationSeconds: (seconds * 1_000).rounded() / 1_000,
            busy: busy, bottleneck: busy.bottleneck, reason: result == .success || reason.isEmpty ? nil : reason)
        try await recorder.record(.sessionFinished, finished)
        logger.notice("session finished", metadata: ["result": "\(result)"])
        return await report(finished)
    }

    /// Ends a session that cannot go on (an error running it again would meet again), or one
    /// stopped while nobody ran it: its snapshots are swept, and it finishes failed (or
    /// stopped) with the reason instead of blocking the job.
    func abandon(reason: String, stopped: Bool = false) async throws -> SessionReport {
        logger.error("session abandoned", metadata: ["reason": "\(reason)"])
        // Only VMs whose snapshot was asked for can have one (the intent is recorded first):
        // a session of a thousand VMs against a vCenter that is down asks about none of the rest.
        let snapshots = await recorder.state.snapshots
        for vm in await recorder.state.vms ?? [] where snapshots[vm.id]?.requested != nil {
            let name = "tidemark-\(shortSession)-\(vm.id)"
            for orphan in (try? await adapter.snapshots(of: vm.id)) ?? [] where orphan.name == name {
                try? await adapter.removeSnapshot(vm: vm.id, snapshot: orphan.id)
                try await recorder.record(.snapshotRemoved, SessionEvent.SnapshotRemoved(vmId: vm.id, snapshotId: orphan.id))
            }
        }
        return try await finish(outcomes: [:], failedReason: stopped ? nil : reason, stopped: stopped ? reason : nil)
    }

    func report(_ finished: SessionEvent.Finished) async -> SessionReport {
        let state = await recorder.state
        return SessionReport(
            session: session, jobID: jobID, trigger: state.started?.trigger, finished: finished,
            machines: Self.machines(in: state, result: finished.result, job: job),
            events: state.version, transferSeconds: stageTimes.transferSeconds)
    }

    /// Each enumerated VM's result and reason, from the recorded facts.
    static func machines(in state: SessionState, result sessionResult: SessionEvent.Outcome, job: JobDefinition) -> [SessionReport.Machine]
    {
        (state.vms ?? []).map { vm -> SessionReport.Machine in
            let tasks = state.tasks.filter { $0.key.hasPrefix(vm.id + "/") }.map(\.value)
            let failed = tasks.contains { $0.result == .failed } || tasks.count < vm.diskKeys.count
            let point = state.restorePoints[vm.id]
            let missing: SessionEvent.Outcome = sessionResult == .stopped ? .stopped : .failed
            let crashConsistent = job.applicationAware != .off && state.snapshots[vm.id]?.created?.quiesced == false
            let fellBack = tasks.contains { $0.transfer?.warning != nil }
            let result =
                point == nil
                ? missing : (tasks.contains { $0.failures > 0 } || crashConsistent || fellBack ? .warning : (failed ? .failed : .success))
            return SessionReport.Machine(
                id: vm.id, name: vm.name, result: result, restorePoint: point,
                readBytes: tasks.compactMap(\.finished).reduce(0) { $0 + $1.bytesRead },
                transferredBytes: tasks.compactMap(\.finished).reduce(0) { $0 + $1.bytesTransferred },
                reason: reason(of: vm, result: result, in: state, job: job))
        }
    }
}
