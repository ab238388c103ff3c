import BlockingIO
import Catalog
import DataMover
import EventStore
import Foundation
import Infrastructure
import Repository
import WorkflowEvents

/// How a task (one disk) ended.
struct TaskResult: Sendable {
    let succeeded: Bool
    let retried: Bool
    let progress: SessionEvent.TransferProgress?
}

extension SessionRunner {
    /// One disk: slots, proxy, transfer with checkpoints, retried per the job. A task the
    /// log shows finished is not redone; one that was running resumes from its saved progress
    /// (on the process still holding it, if one does). A task taken back from a proxy process
    /// that stopped heartbeating resumes on the next proxy chosen, without counting as a failure.
    func processDisk(
        _ machine: VirtualMachine, _ disk: VirtualDisk, snapshot: SessionEvent.SnapshotCreated, inventory: Inventory,
        previous: SessionEvent.RestorePointCreated?
    ) async throws -> TaskResult {
        let task = Self.taskID(machine, disk)
        while true {
            let record = await recorder.state.tasks[task] ?? SessionState.TaskRecord()
            if record.result == .success, let finished = record.finished {
                return TaskResult(succeeded: true, retried: record.failures > 0, progress: finished)
            }
            let resuming = record.attempt > 0 && record.result == nil
            if resuming, let assigned = record.assigned {
                // The Job Manager stopped while a process held the transfer: follow it again.
                if let done = try await reattach(task: task, assigned: assigned) { return done }
                continue
            }
            if !resuming && (record.failures > job.retry.count || (record.failures > 0 && stop.requested != nil)) {
                return TaskResult(succeeded: false, retried: record.failures > 1, progress: nil)
            }
            // A failure before any attempt was the snapshot's, whose retry waited already.
            if !resuming && record.failures > 0 && record.attempt > 0 {
                try await Task.sleep(for: settings.retryWait ?? .seconds(job.retry.waitMinutes * 60))
            }
            let attempt = resuming ? record.attempt : record.attempt + 1
            let proxy: ProxySelection.Candidate, slot: (repository: Int, proxy: Int)
            var chosen: [SessionRecorder.Entry]
            do {
                (proxy, slot, chosen) = try await acquireSlots(
                    task: task, machine: machine, disk: disk, inventory: inventory, attempt: attempt, resuming: resuming)
            } catch let error as JobManagerError {
                // No proxy can reach the disk: the task fails with the reason; retrying would not help.
                try await recorder.record(.taskFinished, SessionEvent.TaskFinished(taskId: task, result: .failed, message: error.message))
                return TaskResult(succeeded: false, retried: false, progress: nil)
            }
            do {
                let rule = throttlingRule(proxyID: proxy.id, site: proxy.proxy.site)
                if let (id, _) = rule, !buckets.has(id) {
                    // The rule's first task records ThrottleApplied: it follows the task's start.
                    try await recorder.record(chosen)
                    chosen = []
                }
                let progress = try await transfer(
                    task: task, machine: machine, disk: disk, snapshot: snapshot, previous: previous, proxy: proxy,
                    throttle: try await throttle(task: task, rule: rule), chosen: chosen)
                try? await release(proxy: proxy.id, slot: slot)
                return TaskResult(succeeded: true, retried: await (recorder.state.tasks[task]?.failures ?? 0) > 0, progress: progress)
            } catch is TaskMoved {
                try? await release(proxy: proxy.id, slot: slot)
            } catch is CancellationError {
                try? await release(proxy: proxy.id, slot: slot)
                throw CancellationError()
            } catch {
                try? await release(proxy: proxy.id, slot: slot)
                logger.warning(
                    "task failed", metadata: ["task": "\(task)", "attempt": "\(attempt)", "error": "\(secrets.scrub("\(error)"))"])
                try await recorder.record(.taskFinished, SessionEvent.TaskFinished(taskId: task, result: .failed, message: "\(error)"))
            }
        }
    }

    /// A repository slot and the best proxy with a free slot, waiting (and saying why, once)
    /// while there is none. Returns the choice with every candidate's score (`ProxySelected`,
    /// and `TaskStarted` for a new attempt) to be recorded with the transfer's plan and its
    /// assignment in one append: starting a task costs the session one round trip, not three.
    func acquireSlots(
        task: String, machine: VirtualMachine, disk: VirtualDisk, inventory: Inventory, attempt: Int, resuming: Bool
    ) async throws -> (proxy: ProxySelection.Candidate, slot: (repository: Int, proxy: Int), entries: [SessionRecorder.Entry]) {
        let placement = ProxySelection.Placement(machine, disk, in: inventory)
        var waited: String?
        // Since when every proxy that could take the task has had an offline process.
        var allOfflineSince: ContinuousClock.Instant?
        while true {
            try Task.checkCancellation()
            // The proxies' presence is read while the slot is claimed (two connections, one wait).
            async let seen = fleet.presence(enrolledKeys: enrolledKeys)
            if let repositorySlot = try await slots.take(.repository, repositoryID, limit: repositoryDefinition.maxConcurrentTasks) {
                var presence: [UUIDString: ProxyPresence]
                do {
                    presence = try await seen
                } catch {
                    try? await slots.give(.repository, repositoryID, slot: repositorySlot)
                    throw error
                }
                let fallBack = allOfflineSince.map { ContinuousClock.now - $0 >= settings.offlineProxyWait } ?? false
                if fallBack {
                    // Their processes stayed away past the wait: the Job Manager moves the data
                    // itself rather than hold the session for ever (the reason is recorded).
                    presence = presence.filter { if case .offline = $0.value { return false } else { return true } }
                }
                var load: [UUIDString: Double] = [:]
                let inUse: [UUIDString: Int]
                do {
                    inUse = try await slots.inUse(.proxy, proxies.map(\.0))
                } catch {
                    try? await slots.give(.repository, repositoryID, slot: repositorySlot)
                    throw error
                }
                for (id, proxy) in proxies {
                    let limit = presence[id]?.mover?.maxTasks ?? proxy.maxConcurrentTasks
                    load[id] = Double(inUse[id] ?? 0) / Double(max(1, limit))
                }
                let ranking = ProxySelection.rank(
                    proxies, placement: placement, server: job.server, repositorySite: repositoryDefinition.site, load: load,
                    presence: presence)
                let ranked = ranking.candidates
                guard !ranked.isEmpty else {
                    try await slots.give(.repository, repositoryID, slot: repositorySlot)
                    if let lost = ranking.offline.first {
                        // A proxy that could take it has a process that stopped heartbeating:
                        // wait for it (or another) to run again, as for a busy proxy, for a while.
                        allOfflineSince = allOfflineSince ?? .now
                        let reason =
                            "proxy '\(lost.proxyName)' is offline (its process on \(lost.host) last heartbeat \(Int(lost.heartbeatAge)) s ago): start 'tidemark proxy run \(lost.proxyName)' again; the Job Manager moves the data itself after \(Int(settings.offlineProxyWait.seconds)) s"
                        if waited != reason {
                            waited = reason
                            try await recorder.record(.taskWaited, SessionEvent.TaskWaited(taskId: task, reason: reason))
                        }
                        try await Task.sleep(for: settings.slotPollInterval)
                        continue
                    }
                    throw JobManagerError(
                        .invalidJob,
                        "job '\(job.name)': no proxy can reach \(machine.name) (add a proxy with network mode, or widen the job's proxy list)"
                    )
                }
                for candidate in ranked {
                    let proxySlot: Int
                    do {
                        guard let taken = try await slots.take(.proxy, candidate.id, limit: candidate.taskLimit) else {
                            continue
                        }
                        proxySlot = taken
                    } catch {
                        try? await slots.give(.repository, repositoryID, slot: repositorySlot)
                        throw error
                    }
                    let entries: [SessionRecorder.Entry]
                    do {
                        entries = try startEntries(
                            task: task, machine: machine, disk: disk, attempt: attempt, resuming: resuming, candidate: candidate,
                            ranked: ranked)
                    } catch {
                        try? await release(proxy: candidate.id, slot: (repositorySlot, proxySlot))
                        throw error
                    }
                    return (candidate, (repositorySlot, proxySlot), entries)
                }
                try await slots.give(.repository, repositoryID, slot: repositorySlot)
                if waited != "proxy" {
                    waited = "proxy"
                    try await recorder.record(
                        .taskWaited, SessionEvent.TaskWaited(taskId: task, reason: "every proxy that reaches it is at its task limit"))
                }
            } else if waited != "repository" {
                waited = "repository"
                try await recorder.record(
                    .taskWaited,
                    SessionEvent.TaskWaited(
                        taskId: task,
                        reason:
                            "repository '\(repositoryDefinition.name)' is at its limit of \(repositoryDefinition.maxConcurrentTasks) tasks")
                )
            }
            try await Task.sleep(for: settings.slotPollInterval)
        }
    }

    /// `ProxySelected` with every candidate's score, and `TaskStarted` unless the task resumes.
    private func startEntries(
        task: String, machine: VirtualMachine, disk: VirtualDisk, attempt: Int, resuming: Bool, candidate: ProxySelection.Candidate,
        ranked: [ProxySelection.Candidate]
    ) throws -> [SessionRecorder.Entry] {
        let selected = SessionEvent.ProxySelected(
            taskId: task, proxyId: candidate.id, proxyName: candidate.proxy.name, transportMode: candidate.mode.rawValue,
            candidates: ranked.map {
                .init(proxyId: $0.id, proxyName: $0.proxy.name, transportMode: $0.mode.rawValue, score: $0.score, reason: $0.reason)
            })
        var entries = [try SessionRecorder.Entry(.proxySelected, selected)]
        if !resuming {
            let started = SessionEvent.TaskStarted(
                taskId: task, vmId: machine.id, vmName: machine.name, diskKey: disk.key, sizeBytes: disk.capacity, attempt: attempt)
            entries.append(try SessionRecorder.Entry(.taskStarted, started))
        }
        return entries
    }

    func release(proxy: UUIDString, slot: (repository: Int, proxy: Int)) async throws {
        try await slots.give([(.proxy, proxy, slot.proxy), (.repository, repositoryID, slot.repository)])
    }

    /// The session's bucket for the rule a task's transfer runs under: the rule's rate split
    /// equally among the sessions under it, counted by slot claims (`ThrottleApplied`, once).
    func throttle(task: String, rule matched: (UUIDString, ThrottlingRule)?) async throws -> SessionThrottle? {
        guard let (id, rule) = matched else { return nil }
        let slots = self.slots, recorder = self.recorder
        let bucket = try await buckets.bucket(for: id) {
            // Held until the session ends: it counts this session under the rule.
            _ = try await slots.take(.throttle, id, limit: 10_000)
            let sharing = max(1, try await slots.inUse(.throttle, id))
            let rate = rule.bytesPerSecond / Int64(sharing)
            try await recorder.record(
                .throttleApplied,
                SessionEvent.ThrottleApplied(taskId: task, ruleId: id, ruleName: rule.name, bytesPerSecond: rate, sessionsSharing: sharing))
            return TokenBucket(bytesPerSecond: Double(rate))
        }
        return SessionThrottle(rule: id, bucket: bucket)
    }

    /// The throttling rule that matches a transfer by this proxy into the repository now
    /// (within its window, in the job's time zone), if one does.
    func throttlingRule(proxyID: UUIDString, site: String) -> (UUIDString, ThrottlingRule)? {
        let minute = ThrottlingRule.minuteOfDay(Date(), in: TimeZone(identifier: job.timeZone) ?? .gmt)
        return throttlingRules.first { _, rule in
            rule.covers(site: site, proxy: proxyID, repository: repositoryID, minuteOfDay: minute)
        }
    }

    /// The data transfer of one disk, its base fixed by `TransferStarted` before the first byte.
    /// `chosen` (the task's start, not yet recorded) goes into the log with the transfer's plan
    /// and, for a proxy process, its assignment.
    func transfer(
        task: String, machine: VirtualMachine, disk: VirtualDisk, snapshot: SessionEvent.SnapshotCreated,
        previous: SessionEvent.RestorePointCreated?, proxy: ProxySelection.Candidate, throttle: SessionThrottle?,
        chosen: [SessionRecorder.Entry]
    ) async throws -> SessionEvent.TransferProgress {
        var pending = chosen
        var order: TransferOrder, token: Int64
        do {
            // The fencing token is drawn while the plan is made.
            async let drawn = mailbox.nextToken()
            order = try await self.order(
                task: task, machine: machine, disk: disk, snapshot: snapshot, previous: previous, throttle: throttle?.bucket,
                pending: &pending)
            token = try await drawn
            // Under a rule, the task takes its share of the session's rate while it moves.
            if let throttle {
                order.throttleBytesPerSecond = try await throttleShares.join(
                    rule: throttle.rule, bucket: throttle.bucket, task: task, remote: proxy.process != nil)
            }
        } catch {
            // The task started (and is about to be failed with the reason): its start is in
            // the log before its end, so its attempt counts and its retry waits.
            try? await recorder.record(pending)
            throw error
        }
        let report: TransferReport
        do {
            // A proxy process writes to a folder it reaches; a repository service is written
            // by this process's own mover, which holds the service's token.
            if let process = proxy.process, !repositoryDefinition.isRemote {
                report = try await moveRemotely(order, proxy: proxy, process: process, token: token, pending: pending)
            } else {
                try await recorder.record(pending)
                report = try await moveEmbedded(order, token: token, throttle: throttle?.bucket)
            }
        } catch {
            if let throttle { await throttleShares.leave(rule: throttle.rule, task: task) }
            throw error
        }
        if let throttle { await throttleShares.leave(rule: throttle.rule, task: task) }
        return try await recordEnd(
            task: task, restorePoint: order.restorePointId, disk: order.disk, report: report, token: proxy.process == nil ? nil : token)
    }

    /// Records a transfer's end (`TransferFinished`, `TaskFinished`) with the mover's figures,
    /// then forgets its saved progress and its assignment.
    func recordEnd(
        task: String, restorePoint: String, disk: String, report: TransferReport, token: Int64?
    ) async throws -> SessionEvent.TransferProgress {
        stageTimes.add(report)
        let done = report.progress(of: task)
        try await recorder.record([
            try SessionRecorder.Entry(.transferFinished, done),
            try SessionRecorder.Entry(.taskFinished, SessionEvent.TaskFinished(taskId: task, result: .success)),
        ])
        // The saved progress and the assignment go at once: neither waits for the other.
        async let cleared: Void = BlockingIOPool.shared.run { [repository] in
            repository.finishProgress(restorePoint: restorePoint, disk: disk)
        }
        if let token { try? await mailbox.close(session: session, task: task, token: token) }
        await cleared
        return done
    }

    /// The embedded data mover: the order carried out in this process, under a fresh token
    /// (a process that held the task before is fenced off the disk's progress).
    func moveEmbedded(_ order: TransferOrder, token: Int64, throttle: TokenBucket?) async throws -> TransferReport {
        let recorder = self.recorder, task = order.taskId
        return try await TransferExecution.run(
            order, adapter: adapter, repository: repository, fenceToken: token, throttle: throttle,
            logHead: { [store = context.store] in
                // The log's chain head goes into the manifest: a record of the log the database cannot rewrite.
                try await EventChain.head(of: store).map { DiskManifest.LogHead(position: $0.position, hash: $0.hash) }
            },
            checkpoint: { report in try await recorder.record(.transferCheckpointed, report.progress(of: task)) })
    }

    /// What the task's mover is to do: the transfer's plan fixed by `TransferStarted` before
    /// the first byte (planned again when the snapshot changed or changed block tracking
    /// refuses a resumed incremental), with the changed areas of an incremental. The plans go
    /// into `pending`, which the caller records before the mover starts.
    func order(
        task: String, machine: VirtualMachine, disk: VirtualDisk, snapshot: SessionEvent.SnapshotCreated,
        previous: SessionEvent.RestorePointCreated?, throttle: TokenBucket?, pending: inout [SessionRecorder.Entry]
    ) async throws -> TransferOrder {
        let diskName = "disk-\(disk.key)"
        var started = await recorder.state.tasks[task]?.transfer
        if let plan = started, let read = plan.snapshotId, read != snapshot.snapshotId {
            // The snapshot this transfer read is gone (an immediate stop, then a resume took a
            // new one): its saved progress cannot be continued from another snapshot.
            await BlockingIOPool.shared.run { [repository] in repository.clearProgress(restorePoint: plan.restorePointId, disk: diskName) }
            let again = SessionEvent.TransferStarted(
                taskId: task, restorePointId: plan.restorePointId, disk: diskName, mode: plan.mode,
                baseRestorePointId: plan.baseRestorePointId,
                baseChangeId: plan.baseChangeId, snapshotId: snapshot.snapshotId, warning: plan.warning)
            pending.append(try SessionRecorder.Entry(.transferStarted, again))
            started = again
        }
        /// The areas changed since a restore point's change id, or why changed block tracking
        /// cannot say (no change id, or one the manager refuses after a reset): then the whole
        /// disk is read, and deduplication still stores only the blocks that are new.
        func changedAreas(since point: String, change: String?) async throws -> (areas: [DiskArea]?, warning: String?) {
            guard let change, !change.isEmpty else {
                return (
                    nil,
                    "restore point \(point) has no change id (changed block tracking was off when it was taken): the whole disk is read"
                )
            }
            do {
                if let areas = try await adapter.changedAreas(
                    vm: machine.id, snapshot: snapshot.snapshotId, diskKey: disk.key, since: change)
                {
                    return (areas, nil)
                }
                return (
                    nil,
                    "restore point \(point) has no change id for \(diskName) (changed block tracking was off for it): the whole disk is read"
                )
            } catch let error as InfrastructureError where error.code == .invalidInput {
                return (nil, "\(error.message): the whole disk is read")
            }
        }
        var areas: [DiskArea]?
        if started == nil {
            // Asked before the plan is recorded, so the plan says what the transfer will do.
            var base: (id: String, change: String)?
            var warning: String?
            if let previous, previous.disks.contains(diskName), try await manifest(of: previous.restorePointId, disk: diskName) != nil {
                (areas, warning) = try await changedAreas(since: previous.restorePointId, change: previous.changeId)
                if areas != nil, let change = previous.changeId { base = (previous.restorePointId, change) }
            }
            let fixed = SessionEvent.TransferStarted(
                taskId: task, restorePointId: "\(machine.id)-\(shortSession)", disk: diskName, mode: base == nil ? .full : .incremental,
                baseRestorePointId: base?.id, baseChangeId: base?.change, snapshotId: snapshot.snapshotId, warning: warning)
            if let warning { logger.warning("changed block tracking unavailable", metadata: ["task": "\(task)", "reason": "\(warning)"]) }
            pending.append(try SessionRecorder.Entry(.transferStarted, fixed))
            started = fixed
        }
        var plan = started!
        var base: TransferOrder.Base?
        if let baseID = plan.baseRestorePointId, try await manifest(of: baseID, disk: diskName) != nil {
            if areas == nil {
                // A resumed incremental asks again; refused now (a reset meanwhile), the rest of
                // the disk is read whole and the plan is recorded again with the reason.
                let again = try await changedAreas(since: baseID, change: plan.baseChangeId)
                areas = again.areas
                if let warning = again.warning {
                    logger.warning("changed block tracking unavailable", metadata: ["task": "\(task)", "reason": "\(warning)"])
                    plan = SessionEvent.TransferStarted(
                        taskId: task, restorePointId: plan.restorePointId, disk: diskName, mode: .full, baseRestorePointId: nil,
                        baseChangeId: nil,
                        snapshotId: snapshot.snapshotId, warning: warning)
                    pending.append(try SessionRecorder.Entry(.transferStarted, plan))
                }
            }
            if let areas { base = TransferOrder.Base(restorePointId: baseID, changedAreas: areas.map { [$0.offset, $0.length] }) }
        }
        return TransferOrder(
            sessionId: session, taskId: task, serverId: job.server, vmId: machine.id, vmName: machine.name, diskKey: disk.key,
            snapshotId: snapshot.snapshotId, restorePointId: plan.restorePointId, disk: diskName, blockSizeBytes: job.blockSizeBytes,
            compressionLevel: job.compressionLevel, repositoryId: repositoryID, repositoryPath: repositoryDefinition.path, base: base,
            throttleBytesPerSecond: throttle.map { Int64($0.bytesPerSecond) }, checkpointBytes: settings.checkpointBytes,
            checkpointSeconds: settings.checkpointInterval.seconds, serverVersion: self.plan.serverVersion)
    }

    /// A restore point's manifest of a disk, read off the cooperative pool; nil if it is
    /// missing or cannot be read (the disk is then read whole).
    private func manifest(of restorePoint: String, disk: String) async throws -> DiskManifest? {
        let repository = self.repository
        return await BlockingIOPool.shared.run { try? repository.manifest(restorePoint: restorePoint, disk: disk) }
    }
}
