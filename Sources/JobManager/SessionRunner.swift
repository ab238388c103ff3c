import BlockingIO
import Catalog
import CatalogStore
import DataMover
import EventStore
import Foundation
import Infrastructure
import Logging
import Repository
import Secrets
import Synchronization
import WorkflowEvents

/// One session's process manager: folds the stream, decides the next step, records it.
///
/// Each side effect is bracketed: snapshots by `SnapshotRequested` → `SnapshotCreated`
/// (deterministic name `tidemark-<session8>-<vm>`, adopted by name when the outcome is
/// missing), transfers by `TransferStarted` (restore point, disk and incremental base fixed
/// up front) → checkpoints → `TransferFinished`, with the progress kept in the repository
/// until the end is recorded; restore points and removals are recorded once, from state.
final class SessionRunner: Sendable {
    let context: SessionContext
    let plan: SessionPlan
    let session: String
    let recorder: SessionRecorder
    let slots: TaskSlots
    /// One bucket per rule, shared by this session's transfers under it.
    let buckets = ThrottleBuckets()
    /// Each rule's rate divided among the movers running the session's tasks under it.
    let throttleShares: ThrottleShares
    let adapter: any InfrastructureAdapter
    let repository: any RepositoryStore
    let logger: Logger
    /// When the session began (its first event): durations count from there, resumes included.
    let startedAt: Date
    let stageTimes = StageTimesBox()
    let stop = StopSignal()
    /// The infrastructure's secrets, kept out of logs and of errors passed up.
    let secrets = ScrubberBox()
    /// The login a proxy process gets, sealed to it, for a task on this session's server.
    let handover: HandedOverCredentials?
    /// The proxy processes, and the mailbox that hands them tasks.
    let fleet: ProxyFleet
    let mailbox: AssignmentMailbox

    var job: JobDefinition { plan.job }
    var jobID: UUIDString { plan.jobID }
    var repositoryID: UUIDString { plan.repositoryID }
    var repositoryDefinition: RepositoryDefinition { plan.repository }
    var settings: JobManagerSettings { context.settings }
    var proxies: [(UUIDString, ProxyDefinition)] { plan.proxies }
    /// The job's proxies' enrolled keys as the session planned: an enrolment made while it
    /// runs applies from the next session.
    var enrolledKeys: [UUIDString: String] {
        Dictionary(plan.proxies.compactMap { id, proxy in proxy.enrolledKey.map { (id, $0) } }, uniquingKeysWith: { first, _ in first })
    }
    var throttlingRules: [(UUIDString, ThrottlingRule)] { plan.throttlingRules }

    /// Everything it works with is handed in (`JobManager.runner(for:state:startedAt:slots:)`
    /// resolves the plan, opens the adapter through the registered factory and the
    /// repository): a runner never reaches back into its Job Manager.
    init(
        context: SessionContext, plan: SessionPlan, adapter opened: OpenedAdapter, repository: any RepositoryStore, state: SessionState,
        startedAt: Date, slots: TaskSlots
    ) async throws {
        self.context = context
        self.plan = plan
        self.session = plan.session
        self.startedAt = startedAt
        self.slots = slots
        self.adapter = opened.adapter
        self.handover = opened.handover
        self.fleet = ProxyFleet(store: context.store)
        let mailbox = AssignmentMailbox(pool: context.store.pool), session = plan.session
        self.mailbox = mailbox
        self.throttleShares = ThrottleShares { rule, tasks, rate in
            try await mailbox.shareThrottle(session: session, rule: rule, tasks: tasks, bytesPerSecond: rate)
        }
        self.repository = repository
        self.recorder = try context.recorder(for: plan, state: state)
        self.logger = context.logger(for: plan)
        for secret in opened.secrets {
            await recorder.redact(secret)
            secrets.add(secret)
        }
    }

    var shortSession: String { String(session.prefix(8)) }

    func run() async throws -> SessionReport {
        if let finished = await recorder.state.finished { return await report(finished) }
        let inventory = try await adapter.inventory()
        let selected = try await enumerate(inventory)
        if await recorder.state.vms?.isEmpty == true {
            return try await finish(outcomes: [:], failedReason: await nothingSelectedReason())
        }
        if case .refused(let reason) = try await checkRepository() {
            return try await finish(outcomes: [:], failedReason: reason)
        }
        let previous = try await previousRestorePoints()
        let missing = try await failMissing(inventory)
        let work = selected.filter { !missing.contains($0.machine.id) }
        var outcomes = try await context.stopRequests.watching(session) { recorded, later in
            // Requests recorded already count before any VM starts; later ones arrive through
            // the Job Manager's one subscription to the control streams.
            if let request = StopRequest.mostForceful(recorded) { stop.request(request) }
            return try await processAll(work, inventory: inventory, previous: previous, stoppingOn: later)
        }
        for vm in missing { outcomes[vm] = .failed }
        // A shutdown cancelled the work: the session stays unfinished, for a resume.
        if Task.isCancelled && stop.requested?.mode != .immediate { throw CancellationError() }
        try await sweepOrphanedSnapshots(selected)
        if let request = stop.requested {
            return try await finish(outcomes: outcomes, failedReason: nil, stopped: "stopped by \(request.by) (\(request.mode.rawValue))")
        }
        if plan.job.indexGuestFiles == true { try await indexGuestFiles() }
        if !outcomes.values.contains(.failed) { try await applyRetention() }
        return try await finish(outcomes: outcomes, failedReason: nil)
    }

    /// What ended one of the two children of `processAll(_:inventory:previous:stoppingOn:)`.
    private enum Ending: Sendable {
        case processed([String: VMOutcome])
        case stoppedImmediately
        case requestsEnded
    }

    /// The VMs' work beside a watcher of stop requests, both in one task group: a graceful
    /// request is noted (no VM starts after it), an immediate one cancels the work, which
    /// ends its transfers and returns what it finished. A cancelled caller (a shutdown)
    /// cancels both. When the work ends, the watcher is cancelled with the group.
    func processAll(
        _ selected: [ObjectExpansion.Selected], inventory: Inventory, previous: [String: SessionEvent.RestorePointCreated],
        stoppingOn requests: AsyncStream<StopRequest>
    ) async throws -> [String: VMOutcome] {
        try await withThrowingTaskGroup(of: Ending.self) { group in
            group.addTask { .processed(try await self.processAll(selected, inventory: inventory, previous: previous)) }
            group.addTask {
                for await request in requests {
                    self.stop.request(request)
                    if request.mode == .immediate { return .stoppedImmediately }
                }
                return .requestsEnded
            }
            while let ending = try await group.next() {
                switch ending {
                case .processed(let outcomes):
                    group.cancelAll()
                    return outcomes
                case .stoppedImmediately:
                    group.cancelAll()
                case .requestsEnded:
                    continue
                }
            }
            throw CancellationError()
        }
    }

    func processAll(
        _ selected: [ObjectExpansion.Selected], inventory: Inventory, previous: [String: SessionEvent.RestorePointCreated]
    ) async throws -> [String: VMOutcome] {
        var outcomes: [String: VMOutcome] = [:]
        if job.parallelProcessing {
            // At most as many VMs transferring as the repository takes tasks: the rest wait
            // before their snapshot, and a graceful stop starts none of them. A VM leaves the
            // window when its transfers end, so the next one's snapshot is taken while this
            // one's is removed and its restore point recorded (as Veeam frees a task slot
            // before the snapshot's removal), not after.
            let window = VMWindow(size: max(1, repositoryDefinition.maxConcurrentTasks))
            try await withThrowingTaskGroup(of: (String, VMOutcome).self) { group in
                for vm in selected {
                    try await window.enter()
                    group.addTask {
                        let place = window.place()
                        defer { place.leave() }
                        do {
                            let outcome = try await self.process(
                                vm, inventory: inventory, previous: previous[vm.machine.id], transfersEnded: { place.leave() })
                            return (vm.machine.id, outcome)
                        } catch {
                            // The VMs not started yet wait no more: the session ends with it.
                            window.fail(error)
                            throw error
                        }
                    }
                }
                for try await (id, outcome) in group { outcomes[id] = outcome }
            }
        } else {
            for vm in selected {
                outcomes[vm.machine.id] = try await process(vm, inventory: inventory, previous: previous[vm.machine.id], transfersEnded: {})
            }
        }
        return outcomes
    }

    /// VMs (or disks) recorded at enumeration that the inventory no longer has: their tasks
    /// fail with the reason, once, instead of vanishing from the session.
    @discardableResult
    func failMissing(_ inventory: Inventory) async throws -> Set<String> {
        guard let recorded = await recorder.state.vms else { return [] }
        let tasks = await recorder.state.tasks
        var entries: [SessionRecorder.Entry] = []
        var failed = Set<String>()
        for vm in recorded {
            let machine = inventory.virtualMachine(vm.id)
            for key in vm.diskKeys where machine?.disks.contains(where: { $0.key == key }) != true {
                let task = "\(vm.id)/\(key)"
                failed.insert(vm.id)
                if tasks[task]?.result != nil { continue }
                entries.append(
                    try SessionRecorder.Entry(
                        .taskFinished,
                        SessionEvent.TaskFinished(
                            taskId: task, result: .failed,
                            message: machine == nil ? "VM \(vm.name) no longer exists" : "disk \(key) of \(vm.name) no longer exists")))
            }
        }
        try await recorder.record(entries)
        return failed
    }

    /// Step 2: the VMs in the job's order, recorded once; a resumed session keeps that list.
    func enumerate(_ inventory: Inventory) async throws -> [ObjectExpansion.Selected] {
        if let recorded = await recorder.state.vms {
            return recorded.compactMap { vm in
                guard let machine = inventory.virtualMachine(vm.id) else { return nil }
                let disks = machine.disks.filter { vm.diskKeys.contains($0.key) }
                return ObjectExpansion.Selected(machine: machine, disks: disks)
            }
        }
        let selected = ObjectExpansion.expand(job, in: inventory)
        let unmatched = ObjectExpansion.unmatched(job, in: inventory).map(\.description)
        for selector in unmatched { logger.warning("a selector of the job matches no VM", metadata: ["selector": "\(selector)"]) }
        try await recorder.record(
            .objectsEnumerated,
            SessionEvent.ObjectsEnumerated(
                vms: selected.map { .init(id: $0.machine.id, name: $0.machine.name, diskKeys: $0.disks.map(\.key)) }, unmatched: unmatched))
        return selected
    }

    /// Step 3: online, writable, above the free-space threshold once what the session is
    /// expected to write is subtracted (`RepositorySpace`); judged again from the recorded
    /// facts on resume.
    func checkRepository() async throws -> RepositorySpace.Verdict {
        try await RepositorySpace.check(
            repository, id: repositoryID, definition: repositoryDefinition, recorder: recorder, logger: logger,
            estimatedBytes: { try await self.estimatedBytes() })
    }

    /// What this session is expected to write: the most the job's last three finished
    /// sessions transferred (from their `SessionFinished`), nil for a job's first session.
    func estimatedBytes() async throws -> Int64? {
        let finished = try await context.store.closings(
            opened: SessionEvent.logKind(.sessionStarted), field: SessionEvent.Field.jobId, equals: jobID,
            closedBy: SessionEvent.Kind.sessionFinished.rawValue, outside: SessionEvent.stream(of: session), limit: 3)
        // A finish that does not decode (written by hand) counts as no figure, as a negative one counts as none written.
        return finished.compactMap { row in
            (try? SessionEvent.decoder().decode(SessionEvent.Finished.self, from: Data(row.data.utf8))).map { max(0, $0.transferredBytes) }
        }.max()
    }

    /// The job's latest restore point per VM before this session (the incremental base).
    func previousRestorePoints() async throws -> [String: SessionEvent.RestorePointCreated] {
        var latest: [String: SessionEvent.RestorePointCreated] = [:]
        for row in try await context.store.liveRestorePoints(job: jobID, outside: SessionEvent.stream(of: session)) {
            if let point = try? SessionEvent.decoder().decode(SessionEvent.RestorePointCreated.self, from: Data(row.data.utf8)) {
                latest[point.vmId] = point
            }
        }
        return latest
    }
}

/// A stop asked of the session: the first request's mode, upgraded by an immediate one.
final class StopSignal: Sendable {
    private let state = Mutex<StopRequest?>(nil)

    /// Notes a request; an immediate one replaces a graceful one, never the reverse.
    func request(_ request: StopRequest) {
        state.withLock { current in
            if current == nil || request.mode == .immediate { current = request }
        }
    }

    var requested: StopRequest? { state.withLock { $0 } }
}

/// The throttling rule a task's transfer runs under, and the session's bucket for it.
struct SessionThrottle: Sendable {
    let rule: UUIDString
    let bucket: TokenBucket
}

/// The token buckets of the throttling rules this session's transfers run under: made once
/// per rule (concurrent tasks wait for the same one), then shared.
final class ThrottleBuckets: Sendable {
    private let buckets = Mutex([String: Task<TokenBucket, any Error>]())

    /// Whether the session's bucket for the rule is made (or being made) already.
    func has(_ rule: String) -> Bool { buckets.withLock { $0[rule] != nil } }

    func bucket(for rule: String, make: @escaping @Sendable () async throws -> TokenBucket) async throws -> TokenBucket {
        let task = buckets.withLock { all -> Task<TokenBucket, any Error> in
            if let known = all[rule] { return known }
            let made = Task { try await make() }
            all[rule] = made
            return made
        }
        do {
            return try await task.value
        } catch {
            // A failed attempt is not kept: the next task under the rule tries again.
            buckets.withLock { all in if all[rule] == task { all[rule] = nil } }
            throw error
        }
    }
}

/// Busy seconds of the session's transfers, summed from concurrent tasks.
final class StageTimesBox: Sendable {
    private let times = Mutex((StageTimes(), 0.0, 0.0))

    /// A mover's end report: stage times measured where the work happened (on the proxy
    /// process that moved the bytes, or in this process for the embedded mover).
    func add(_ report: TransferReport) {
        guard let busy = report.busySeconds, let wall = report.wallSeconds else { return }
        var stages = StageTimes()
        stages.source = busy.source
        stages.proxy = busy.proxy
        stages.network = busy.network
        stages.target = busy.target
        times.withLock {
            $0.0.add(stages)
            $0.1 += wall * Double(report.parallelism ?? 1)
            $0.2 += wall
        }
    }

    /// Wall seconds of the transfers, summed.
    var transferSeconds: Double { times.withLock { $0.2 } }

    /// Busy percentages of each stage.
    var busy: SessionEvent.Busy {
        let (stages, capacity, _) = times.withLock { $0 }
        func percent(_ seconds: Double) -> Double { capacity > 0 ? min(100, (seconds / capacity * 1_000).rounded() / 10) : 0 }
        return SessionEvent.Busy(
            source: percent(stages.source), proxy: percent(stages.proxy), network: percent(stages.network), target: percent(stages.target))
    }
}

/// The session's scrubber, filled once the infrastructure's password is resolved.
final class ScrubberBox: Sendable {
    private let scrubber = Mutex(SecretScrubber())

    func add(_ secret: String) { scrubber.withLock { $0.add(secret) } }

    func scrub(_ text: String) -> String { scrubber.withLock { $0.scrub(text) } }

    func reveals(_ text: String) -> Bool { scrubber.withLock { $0.reveals(text) } }
}
