import EventStore
import Foundation
import WorkflowEvents

/// A task's transfer was taken back from the process that held it (its lease ran out, it
/// handed the task back, the assignment never reached it): the task resumes from its last
/// checkpoint on the next proxy chosen. Not a failure: no retry is used up.
struct TaskMoved: Error {}

/// A proxy process reported that the transfer failed, with its reason.
struct RemoteTransferFailed: Error, CustomStringConvertible {
    let proxy: String
    let host: String
    let message: String
    var description: String { "\(message) (on proxy '\(proxy)', host \(host))" }
}

extension SessionRunner {
    /// Hands the order to a live proxy process (steps 5 and 6 on another host) under its
    /// fencing token: `TaskAssigned` recorded (with `pending`, the task's start and plan, in one
    /// append), then the assignment with the login sealed to the process.
    func moveRemotely(
        _ order: TransferOrder, proxy: ProxySelection.Candidate, process: ProxyProcess, token: Int64, pending: [SessionRecorder.Entry]
    ) async throws -> TransferReport {
        let sealed = try handover.map {
            try CredentialSeal.seal($0, to: process.publicKey, for: .init(session: session, task: order.taskId, token: token))
        }
        let assigned = SessionEvent.TaskAssigned(
            taskId: order.taskId, proxyId: proxy.id, proxyName: proxy.proxy.name, instanceId: process.instanceID, host: process.host,
            token: token)
        try await recorder.record(pending + [try SessionRecorder.Entry(.taskAssigned, assigned)])
        guard try await mailbox.assign(order, token: token, to: process.instanceID, sealed: sealed) else {
            try await taskMoved(assigned, reason: "proxy '\(proxy.proxy.name)' on \(process.host) ended before the task reached it")
        }
        return try await follow(assigned)
    }

    /// A resumed session's task still assigned to a process: waits for that process again
    /// (it kept working while no Job Manager ran), or moves the task if it is gone. Returns
    /// the task's result once it ended; nil when the caller is to go on (moved or failed).
    func reattach(task: String, assigned: SessionEvent.TaskAssigned) async throws -> TaskResult? {
        guard let plan = await recorder.state.tasks[task]?.transfer else {
            try await taskMovedRecorded(assigned, reason: "no transfer was planned for it")
            return nil
        }
        // Its slots count again while it runs (the claims of the Job Manager that stopped died
        // with it); over the limit if others took them meanwhile: the work is under way.
        let repositorySlot = try await slots.take(.repository, repositoryID, limit: repositoryDefinition.maxConcurrentTasks)
        let proxySlot: Int?
        do {
            proxySlot = try await slots.take(.proxy, assigned.proxyId, limit: 10_000)
        } catch {
            if let repositorySlot { try? await slots.give(.repository, repositoryID, slot: repositorySlot) }
            throw error
        }
        func releaseSlots() async {
            let held: [(owner: TaskSlots.Owner, id: String, slot: Int)] = [
                repositorySlot.map { (.repository, repositoryID, $0) }, proxySlot.map { (.proxy, assigned.proxyId, $0) },
            ].compactMap { $0 }
            try? await slots.give(held)
        }
        // Under a throttling rule, it counts among the tasks sharing the rate again.
        let site = proxies.first { $0.0 == assigned.proxyId }?.1.site ?? ""
        let throttle = try? await self.throttle(task: task, rule: throttlingRule(proxyID: assigned.proxyId, site: site))
        if let throttle { _ = try? await throttleShares.join(rule: throttle.rule, bucket: throttle.bucket, task: task, remote: true) }
        func release() async {
            if let throttle { await throttleShares.leave(rule: throttle.rule, task: task) }
            await releaseSlots()
        }
        do {
            let report = try await follow(assigned)
            let done = try await recordEnd(
                task: task, restorePoint: plan.restorePointId, disk: plan.disk, report: report, token: assigned.token)
            await release()
            return TaskResult(succeeded: true, retried: await (recorder.state.tasks[task]?.failures ?? 0) > 0, progress: done)
        } catch is TaskMoved {
            await release()
            return nil
        } catch let failed as RemoteTransferFailed {
            await release()
            try await recorder.record(.taskFinished, SessionEvent.TaskFinished(taskId: task, result: .failed, message: "\(failed)"))
            return nil
        } catch {
            await release()
            throw error
        }
    }

    /// Follows the holder's reports until the transfer ends: each new checkpoint recorded as
    /// `TransferCheckpointed`; the process's lease running out, or the task handed back, moves
    /// it (`TaskMoved`). A cancelled session (an immediate stop, a shutdown) takes it back.
    func follow(_ assigned: SessionEvent.TaskAssigned) async throws -> TransferReport {
        // The doorbell's connection runs while some task of this Job Manager is followed.
        try await context.reports.listening { try await followReports(assigned) }
    }

    private func followReports(_ assigned: SessionEvent.TaskAssigned) async throws -> TransferReport {
        var recordedOffset: Int64 = -1
        let key = "\(session)/\(assigned.taskId)", doorbell = context.reports
        do {
            while true {
                try Task.checkCancellation()
                // Read before the row: a report committed in between rings after it.
                let seen = doorbell.rings(of: key)
                guard let report = try await mailbox.read(session: session, task: assigned.taskId), report.token == assigned.token else {
                    try await taskMoved(assigned, reason: "its assignment to proxy '\(assigned.proxyName)' is gone")
                }
                switch report.state {
                case .finished:
                    guard let outcome = report.outcome else {
                        throw RemoteTransferFailed(proxy: assigned.proxyName, host: assigned.host, message: "the proxy reported no figures")
                    }
                    return outcome
                case .failed:
                    throw RemoteTransferFailed(
                        proxy: assigned.proxyName, host: assigned.host, message: report.message ?? "the transfer failed")
                case .abandoned:
                    try await taskMoved(
                        assigned,
                        reason: "proxy '\(assigned.proxyName)' on \(assigned.host) handed it back: \(report.message ?? "stopping")")
                case .revoked:
                    try await taskMoved(assigned, reason: "it was taken back from proxy '\(assigned.proxyName)'")
                case .assigned, .running:
                    if let progress = report.progress, progress.offset > recordedOffset {
                        try await recorder.record(.transferCheckpointed, progress.progress(of: assigned.taskId))
                        recordedOffset = progress.offset
                    }
                    if !report.processLive {
                        try await mailbox.revoke(session: session, task: assigned.taskId, token: assigned.token)
                        if report.processEnd == "stopped" {
                            try await taskMoved(assigned, reason: "proxy '\(assigned.proxyName)' on \(assigned.host) stopped")
                        }
                        let reason = "proxy '\(assigned.proxyName)' on \(assigned.host) stopped heartbeating (its lease ran out)"
                        _ = try? await fleet.declareLost(
                            instanceID: assigned.instanceId, proxyID: assigned.proxyId, proxyName: assigned.proxyName,
                            reason: "\(reason); noticed by session \(session)", actor: "job-manager")
                        try await taskMoved(assigned, reason: reason)
                    }
                }
                // Woken by the holder's report; the time limit also notices a process whose
                // lease runs out without a word.
                await doorbell.wait(for: key, after: seen, upTo: settings.proxyPollInterval)
                try Task.checkCancellation()
            }
        } catch is CancellationError {
            // Taken back so the process stops at its next report; not recorded (the session's
            // stop or shutdown says why), and its progress stays for a resume.
            let mailbox = self.mailbox, session = self.session
            await Task.detached { try? await mailbox.revoke(session: session, task: assigned.taskId, token: assigned.token) }.value
            throw CancellationError()
        }
    }

    /// Records `TaskReassigned` and throws `TaskMoved`.
    func taskMoved(_ assigned: SessionEvent.TaskAssigned, reason: String) async throws -> Never {
        try await taskMovedRecorded(assigned, reason: reason)
        logger.warning("task moved", metadata: ["task": "\(assigned.taskId)", "proxy": "\(assigned.proxyName)", "reason": "\(reason)"])
        throw TaskMoved()
    }

    func taskMovedRecorded(_ assigned: SessionEvent.TaskAssigned, reason: String) async throws {
        try await recorder.record(
            .taskReassigned,
            SessionEvent.TaskReassigned(
                taskId: assigned.taskId, proxyId: assigned.proxyId, proxyName: assigned.proxyName, instanceId: assigned.instanceId,
                token: assigned.token, reason: reason))
    }
}
