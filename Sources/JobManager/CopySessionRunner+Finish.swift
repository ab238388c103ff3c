import Catalog
import Foundation
import Repository
import WorkflowEvents

extension CopySessionRunner {
    /// The copy job's rule: its retention and GFS, calendar periods in its time zone.
    var retentionRule: CopyRetention {
        CopyRetention(keep: job.retention, gfs: copy.gfs, timeZone: TimeZone(identifier: job.timeZone) ?? TimeZone(identifier: "UTC")!)
    }

    /// The copy job's live points, with their VMs and GFS flags.
    func copyPoints() async throws -> [(vm: String, point: CopyRetention.Point)] {
        try await context.store.liveRestorePoints(job: jobID).compactMap { row in
            guard let point = Self.decode(row) else { return nil }
            let flags = Set((point.gfs ?? []).compactMap(GFSPeriod.init(rawValue:)))
            return (vm: point.vmId, point: CopyRetention.Point(id: point.restorePointId, recordedAt: row.recordedAt, flags: flags))
        }
    }

    /// Per VM, the copies beyond the job's retention and not kept by GFS; removed (or kept
    /// while in use or immutable) as a backup job's are.
    func applyRetention() async throws {
        let rule = retentionRule
        let now = Date()
        let doomed = Dictionary(grouping: try await copyPoints(), by: { $0.vm }).values.flatMap { points in
            rule.doomed(points.map { $0.point }, now: now).map { ($0.id, $0.reason) }
        }
        try await RetentionRemoval(
            store: context.store, recorder: recorder, repository: target, repositoryID: plan.repositoryID, slots: slots, logger: logger,
            staleProgressAge: context.settings.staleProgressAge
        ).remove(doomed)
    }

    /// The statistics from the recorded ends of the transfers (each byte counted once however
    /// often the session resumed), and the result.
    func finish(outcomes: [String: VMOutcome], failedReason: String?, stopped: String? = nil) async throws -> SessionReport {
        let state = await recorder.state
        let finishedTasks = state.tasks.values.filter { $0.result == .success }.compactMap(\.finished)
        let read = finishedTasks.reduce(Int64(0)) { $0 + $1.bytesRead }
        let sent = finishedTasks.reduce(Int64(0)) { $0 + $1.bytesTransferred }
        let processed = finishedTasks.reduce(Int64(0)) { $0 + $1.offset }
        let result: SessionEvent.Outcome
        if stopped != nil {
            result = .stopped
        } else if failedReason != nil || outcomes.values.contains(.failed) {
            result = .failed
        } else if outcomes.values.contains(.warning) || state.repositoryChecked?.warning != nil {
            result = .warning
        } else {
            result = .success
        }
        let machines = SessionRunner.machines(in: state, result: result, job: job)
        let reason =
            stopped ?? failedReason
            ?? [SessionRunner.sessionReason(machines: machines, unmatched: []), state.repositoryChecked?.warning].compactMap { $0 }
            .joined(separator: "; ")
        let seconds = Date().timeIntervalSince(startedAt)
        // As a backup's: the share of the point the target held already, and what encoding saved.
        func ratio(_ a: Int64, _ b: Int64) -> Double? { b > 0 ? (Double(a) / Double(b) * 100).rounded() / 100 : nil }
        let finished = SessionEvent.Finished(
            result: result, processedBytes: processed, readBytes: read, transferredBytes: sent,
            dedupeRatio: ratio(processed, read), compressionRatio: ratio(read, sent),
            durationSeconds: (seconds * 1_000).rounded() / 1_000, busy: nil, bottleneck: nil,
            reason: result == .success || reason.isEmpty ? (state.vms?.isEmpty == true ? nothingToCopy : nil) : reason)
        try await recorder.record(.sessionFinished, finished)
        logger.notice("copy session finished", metadata: ["result": "\(result)"])
        return await report(finished)
    }

    /// Said when the source job had no point that was not copied already.
    private var nothingToCopy: String { "no restore point of the job it copies is newer than its copies: nothing to copy" }

    /// Ends a session that cannot go on, failed with the reason.
    func abandon(reason: String) async throws -> SessionReport {
        logger.error("copy session abandoned", metadata: ["reason": "\(reason)"])
        return try await finish(outcomes: [:], failedReason: reason)
    }

    func report(_ finished: SessionEvent.Finished) async -> SessionReport {
        let state = await recorder.state
        return SessionReport(
            session: session, jobID: jobID, trigger: state.started?.trigger, finished: finished,
            machines: SessionRunner.machines(in: state, result: finished.result, job: job), events: state.version,
            transferSeconds: 0)
    }
}
