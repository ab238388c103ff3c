import Catalog
import CatalogStore
import Crypto
import EventStore
import Foundation
import JobManager
import Logging
import Synchronization
import WorkflowEvents

/// Decides, once per tick, which jobs are due: records `RunRequested` (after beginning the
/// session) or `RunSkipped` with the reason, per scheduled time, on `schedule-<job>`.
///
/// Only the elected leader ticks (`SchedulerService`). Sessions it begins get an id derived
/// from the job and the scheduled time, so a leader that dies between beginning a session
/// and recording the request begins the same session again, which is a no-op.
public struct Scheduler: Sendable {
    public let store: EventStore
    let manager: JobManager
    let logger: Logger
    /// A scheduled time further in the past than this when first seen was missed while no
    /// scheduler ran.
    public let missedAfter: TimeInterval

    public init(
        store: EventStore, manager: JobManager, missedAfter: TimeInterval = 120, logger: Logger = Logger(label: "tidemark.scheduler")
    ) {
        self.store = store
        self.manager = manager
        self.missedAfter = missedAfter
        self.logger = logger
    }

    /// The scheduled times recorded per job, read incrementally from the schedule streams.
    let tracked = TrackedSlots()
    let nextRuns = NextRunMemo()

    final class TrackedSlots: Sendable {
        let state = Mutex<(position: Int64, slots: ScheduleSlots)>((0, ScheduleSlots()))
        /// Positions of schedule events passed over as beyond their job's next run, each warned about once.
        let ignored = Mutex<Set<Int64>>([])
    }

    /// The scheduled times recorded per job, from the schedule streams.
    func tracks() async throws -> ScheduleSlots {
        var (position, result) = tracked.state.withLock { $0 }
        let decoder = ScheduleEvent.decoder()
        defer { tracked.state.withLock { $0 = (position, result) } }
        while true {
            let batch = try await store.read(after: position, categories: [ScheduleEvent.category], limit: 5_000)
            for event in batch {
                guard let jobID = ScheduleEvent.job(inStream: event.stream) else { continue }
                let data = Data(event.data.utf8)
                let slot =
                    (try? decoder.decode(ScheduleEvent.RunRequested.self, from: data))?.scheduledFor
                    ?? (try? decoder.decode(ScheduleEvent.RunSkipped.self, from: data))?.scheduledFor
                if let slot { result.record(job: jobID, time: slot, position: event.position) }
            }
            guard let last = batch.last, batch.count == 5_000 else { return result }
            position = last.position
        }
    }

    /// The latest scheduled time of a job the scheduler handled, among those that have come
    /// by `now` (see `ScheduleSlots`); times beyond the job's next computed run are reported
    /// once each.
    func handledSlot(_ slots: ScheduleSlots, job id: String, _ job: JobDefinition, at now: Date) -> Date? {
        let bound = job.schedule.nextRun(after: now, timeZone: job.timeZone) ?? now
        let (handled, beyond) = slots.latest(job: id, trustedUpTo: now, reportedBeyond: bound)
        let fresh = tracked.ignored.withLock { ignored in beyond.filter { ignored.insert($0.position).inserted } }
        for slot in fresh {
            logger.warning(
                "schedule event ignored: its scheduled time lies beyond the job's next run, which no scheduler records",
                metadata: [
                    "job": "\(job.name)", "event.position": "\(slot.position)",
                    "scheduled_for": "\(slot.time.formatted(.iso8601))", "next_run": "\(bound.formatted(.iso8601))",
                ])
        }
        return handled
    }

    /// Positions of schedule events passed over so far (beyond their job's next run), for reports and tests.
    public var ignoredScheduleEvents: [Int64] { tracked.ignored.withLock { $0.sorted() } }

    /// The result and time of the job's latest finished session.
    func lastFinished(job: String) async throws -> (SessionEvent.Outcome, Date)? {
        let finished = try await store.closings(
            opened: SessionEvent.logKind(.sessionStarted), field: SessionEvent.Field.jobId, equals: job,
            closedBy: SessionEvent.Kind.sessionFinished.rawValue, limit: 1)
        guard let last = finished.first else { return nil }
        let result = try? SessionEvent.decoder().decode(SessionEvent.Finished.self, from: Data(last.data.utf8)).result
        return (result ?? .other("unknown"), last.recordedAt)
    }

    /// Jobs with a session begun and not finished.
    func runningJobs() async throws -> Set<String> {
        Set(try await manager.unfinished().compactMap(\.job))
    }

    /// One pass over every job at `now`. Returns the sessions begun. With a `fence` (the
    /// leader's lease), every decision lands in a transaction that first checks the lease:
    /// a leader that lost it (it froze past the expiry and was replaced) records nothing.
    @discardableResult
    public func tick(at now: Date = Date(), fence: LeaseFence? = nil) async throws -> [String] {
        let catalog = try await manager.catalog.load()
        let handled = try await tracks()
        let running = try await runningJobs()
        var begun: [String] = []
        for (id, entry) in catalog.jobs.sorted(by: { $0.key < $1.key }) {
            let job = entry.definition
            switch job.schedule {
            case .manual, .after:
                continue
            case .continuously:
                guard job.enabled, !running.contains(id) else { continue }
                // A session that failed is followed after the job's retry wait (at least a
                // minute), not at once: a job that cannot run must not spin.
                if let (result, at) = try await lastFinished(job: id), result == .failed,
                    now.timeIntervalSince(at) < Double(max(1, job.retry.waitMinutes) * 60)
                {
                    continue
                }
                begun.append(try await manager.begin(jobID: id, in: catalog, trigger: .continuous))
            case .daily, .monthly, .periodically:
                // From the last scheduled time handled, or the job's last change if later: a
                // schedule set months after the job was made does not owe its past.
                let from = max(handledSlot(handled, job: id, job, at: now) ?? entry.createdAt, entry.updatedAt)
                guard
                    let due = nextRuns.nextRun(
                        job: id, version: entry.version, after: from, { job.schedule.nextRun(after: from, timeZone: job.timeZone) }),
                    due <= now
                else { continue }
                // Every scheduled time up to now; all but the last were missed while no scheduler ran.
                var slots = [due]
                while let following = job.schedule.nextRun(after: slots.last!, timeZone: job.timeZone), following <= now,
                    slots.count < 10_000
                {
                    slots.append(following)
                }
                let slot = slots.last!
                let next = job.schedule.nextRun(after: slot, timeZone: job.timeZone)
                let missed = now.timeIntervalSince(slot) > missedAfter
                let session = Self.sessionID(job: id, slot: slot)
                if running.contains(id), try await store.streamVersion(try StreamName(SessionEvent.stream(of: session))) > 0 {
                    // A leader died between beginning this very session and recording it.
                    try await record(
                        [
                            try decision(
                                id, .runRequested,
                                ScheduleEvent.RunRequested(
                                    jobId: id, scheduledFor: slot, trigger: missed ? "missed" : "scheduled", sessionId: session,
                                    nextRunAt: next))
                        ],
                        fence: fence)
                    continue
                }
                if let reason = skipReason(job, id: id, running: running, missed: missed, at: now) {
                    try await record(
                        [
                            try decision(
                                id, .runSkipped,
                                ScheduleEvent.RunSkipped(jobId: id, scheduledFor: slot, reason: reason, count: slots.count, nextRunAt: next)
                            )
                        ],
                        fence: fence)
                    logger.info("run skipped", metadata: ["job": "\(job.name)", "reason": "\(reason)"])
                } else {
                    // The session and the request in one append: both or neither.
                    let trigger: SessionEvent.Trigger = missed ? .missed : .scheduled
                    try await record(
                        [
                            try manager.startAppend(jobID: id, in: catalog, trigger: trigger, session: session, actor: "scheduler"),
                            try decision(
                                id, .runRequested,
                                ScheduleEvent.RunRequested(
                                    jobId: id, scheduledFor: slot, trigger: trigger, sessionId: session, nextRunAt: next)),
                        ], fence: fence)
                    logger.info("run requested", metadata: ["job": "\(job.name)", "session": "\(session)"])
                    begun.append(session)
                }
            }
        }
        return begun
    }

    /// Why a due run does not happen, or nil when it does. A missed run still runs once if
    /// the job's backup window is open now (a job without a window is always open).
    func skipReason(_ job: JobDefinition, id: String, running: Set<String>, missed: Bool, at now: Date) -> String? {
        if !job.enabled { return "job disabled" }
        if running.contains(id) { return "already running" }
        let open = job.backupWindow.map { window in
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: job.timeZone) ?? .gmt
            let parts = calendar.dateComponents([.hour, .minute], from: now)
            return window.contains(minuteOfDay: (parts.hour ?? 0) * 60 + (parts.minute ?? 0))
        }
        if missed && open == false { return "missed while the server was down" }
        if open == false { return "outside its backup window" }
        return nil
    }

    /// Chained jobs: a session of each enabled job that follows `finishedJob`, unless running.
    /// After a session a person began (`trigger`), the chained ones are `chainedByHand`.
    public func chain(after finishedJob: String, trigger: SessionEvent.Trigger?) async throws -> [String] {
        let chainedTrigger: SessionEvent.Trigger = trigger?.isByHand == true ? .chainedByHand : .chained
        let catalog = try await manager.catalog.load()
        let running = try await runningJobs()
        var begun: [String] = []
        for (id, entry) in catalog.jobs.sorted(by: { $0.key < $1.key })
        where entry.definition.schedule.predecessor == finishedJob && entry.definition.enabled && !running.contains(id) {
            begun.append(try await manager.begin(jobID: id, in: catalog, trigger: chainedTrigger))
        }
        return begun
    }

    /// A decision on the job's schedule stream.
    private func decision<Payload: Encodable>(_ job: String, _ kind: ScheduleEvent.Kind, _ payload: Payload) throws -> StreamAppend {
        let data = String(decoding: try ScheduleEvent.encoder().encode(payload), as: UTF8.self)
        return StreamAppend(
            stream: try StreamName(ScheduleEvent.stream(of: job)), expectedVersion: .any,
            events: [
                try NewEvent(
                    type: kind.rawValue, jsonData: data, metadata: EventMetadata(actor: "scheduler", host: ProcessInfo.processInfo.hostName)
                )
            ])
    }

    /// Appends in one transaction, after checking the fence when there is one.
    private func record(_ appends: [StreamAppend], fence: LeaseFence?) async throws {
        try await store.pool.withTransaction { connection in
            try fence?.check(on: connection)
            _ = try EventStore.append(appends, on: connection)
        }
    }

    /// The session id of a job's run at a scheduled time: the same inputs give the same id.
    static func sessionID(job: String, slot: Date) -> String {
        let digest = Array(SHA256.hash(data: Data("\(job)|\(Int64(slot.timeIntervalSince1970 * 1_000))".utf8)))
        var bytes = Array(digest.prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x50  // version 5 layout: name-based
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = bytes.hexString
        let chars = Array(hex)
        return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(chars[$0]) }.joined(separator: "-")
    }
}
