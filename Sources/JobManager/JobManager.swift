import Catalog
import CatalogStore
import EventStore
import Foundation
import Infrastructure
import Logging
import Postgres
import Repository
import WorkflowEvents

/// Settings of Job Managers that are not part of a job.
public struct JobManagerSettings: Sendable {
    /// A transfer checkpoint (an event, and progress saved in the repository) at least this
    /// often, and every `checkpointBytes` read. Defaults: 5 s, 256 MiB.
    public var checkpointInterval: Duration
    public var checkpointBytes: Int64
    /// How often a task waiting for a slot looks again. Defaults to 50 ms.
    public var slotPollInterval: Duration
    /// How often a task handed to a proxy process looks at what the process reported (and
    /// whether it still heartbeats). Defaults to 250 ms.
    public var proxyPollInterval: Duration = .milliseconds(250)
    /// How long a task waits when every proxy that could take it has an offline process,
    /// before the Job Manager moves its data itself (embedded). Defaults to 5 minutes.
    public var offlineProxyWait: Duration = .seconds(300)
    /// Replaces the jobs' wait between retries (tests); nil keeps the job's.
    public var retryWait: Duration?
    /// Where `credential:` and `file:` password references are read; nil refuses them.
    public var secrets: SecretsLocation?
    /// Saved transfer progress untouched for this long (seconds) is dropped by the garbage
    /// collection after retention, so the chunks of a session that never finished go too
    /// (resumed after that, its transfer starts over). Defaults to 7 days.
    public var staleProgressAge: TimeInterval = 7 * 86_400
    /// Where the transfers to a repository service keep their progress and fences on this
    /// host (a folder per repository); nil refuses repository services.
    public var repositoryStaging: String?
    /// How long a call to a repository service keeps trying one it cannot reach before the
    /// task fails with the reason (its retry resumes from the saved progress). Defaults to 2 minutes.
    public var repositoryRetryBudget: Duration = .seconds(120)
    /// Fault injection for the crash-resume tests: the process kills itself (SIGKILL) right
    /// after the append that brings a session's stream to this many events or more. Set by
    /// the command line from `TIDEMARK_CRASH_AFTER_EVENTS`; nil in every real run.
    public var crashAfterEvents: Int64?

    public init(
        checkpointInterval: Duration = .seconds(5), checkpointBytes: Int64 = 256 << 20, slotPollInterval: Duration = .milliseconds(50),
        retryWait: Duration? = nil
    ) {
        self.checkpointInterval = checkpointInterval
        self.checkpointBytes = checkpointBytes
        self.slotPollInterval = slotPollInterval
        self.retryWait = retryWait
    }
}

/// What a session did, as `job start` and the demo print it.
public struct SessionReport: Sendable {
    public struct Machine: Sendable {
        public let id: String
        public let name: String
        public let result: SessionEvent.Outcome
        public let restorePoint: String?
        public let readBytes: Int64
        public let transferredBytes: Int64
        /// Why it failed, or what its warning is; nil when it simply succeeded.
        public let reason: String?
    }

    public let session: String
    public let jobID: String
    /// Why the session began (nil in sessions recorded before triggers were).
    public let trigger: SessionEvent.Trigger?
    public let finished: SessionEvent.Finished
    public let machines: [Machine]
    /// Events the session's stream holds.
    public let events: Int64
    /// Wall seconds the data mover spent in this run's transfers, summed over them.
    public let transferSeconds: Double
}

/// Runs backup sessions: the seven steps of a job as events on the session's stream, each
/// side effect between an intent and an outcome, so that a session started again after a
/// crash (in this process or another) continues where the log says it stopped.
public struct JobManager: Sendable {
    public let store: EventStore
    public let catalog: CatalogStore
    public let settings: JobManagerSettings
    let logger: Logger
    /// Makes the adapter of a session's server: the platforms the composition root registered.
    public let adapters: AdapterFactory
    /// What its sessions share (the stop requests' one subscription among them).
    let context: SessionContext

    /// `adapters`: the platforms its sessions can reach; the lab alone unless the caller
    /// registers more (`PlatformAdapters.standard` adds vSphere).
    public init(
        store: EventStore, settings: JobManagerSettings = JobManagerSettings(), adapters: AdapterFactory = .lab,
        logger: Logger = Logger(label: "tidemark.jobmanager")
    ) {
        self.store = store
        self.catalog = CatalogStore(events: store, logger: logger)
        self.settings = settings
        self.adapters = adapters
        self.logger = logger
        self.context = SessionContext(
            store: store, settings: settings, logger: logger, stopRequests: StopRequestFeed(store: store, logger: logger),
            reports: Doorbell(settings: store.pool.configuration.settings, channel: "tidemark_assignment_reports", logger: logger))
    }

    /// A runner for a session taken up: its plan resolved from the catalog, its server's
    /// adapter opened through the registered factory, its repository opened (or made on
    /// first use). A permanent error here ends the session failed with the reason.
    func runner(for session: String, state: SessionState, startedAt: Date, slots: TaskSlots) async throws -> SessionRunner {
        guard let started = state.started else { throw JobManagerError(.noSuchSession, "there is no session \(session)") }
        let plan = try await SessionPlan.resolve(session: session, started: started, catalog: catalog)
        var sessionLogger = logger
        sessionLogger[metadataKey: "session"] = "\(session)"
        sessionLogger[metadataKey: "job"] = "\(plan.job.name)"
        let opened = try await adapters.open(
            plan.server, for: "job '\(plan.job.name)'", secrets: settings.secrets, logger: sessionLogger)
        do {
            let repository = try await plan.openRepository(store: store, settings: settings)
            return try await SessionRunner(
                context: context, plan: plan, adapter: opened, repository: repository, state: state, startedAt: startedAt, slots: slots)
        } catch {
            await opened.adapter.disconnect()
            throw error
        }
    }

    /// Begins a session of the job (records `SessionStarted` with the job's current version)
    /// and returns its id; `run` does the rest. With `session` given (the scheduler derives
    /// it from the job and the scheduled time), beginning twice begins once.
    /// `requester`: who asked (an API user and its address); its `SessionStarted` records them.
    public func begin(
        job name: String, trigger: SessionEvent.Trigger, session given: String? = nil, requester: EventMetadata? = nil
    ) async throws -> String {
        let state = try await catalog.load()
        let id = try state.require(JobDefinition.self, named: name)
        return try await begin(jobID: id, in: state, trigger: trigger, session: given, requester: requester)
    }

    public func begin(
        jobID id: UUIDString, in state: CatalogState, trigger: SessionEvent.Trigger, session given: String? = nil,
        requester: EventMetadata? = nil
    ) async throws -> String {
        let session = given ?? UUID().uuidString.lowercased()
        let started = try Self.started(jobID: id, in: state, trigger: trigger, session: session)
        let recorder = try SessionRecorder(
            store: store, session: session, state: SessionState(), crashAfter: settings.crashAfterEvents, requester: requester)
        do {
            try await recorder.record(.sessionStarted, started)
        } catch let error as EventStoreError where error.code == .wrongExpectedVersion && given != nil {
            // Begun already (a scheduler that crashed after beginning it): nothing to do.
        }
        return session
    }

    /// Every session that started and never finished, with its job's id, oldest first: the
    /// work left for a Job Manager, and the jobs the scheduler must count as running.
    public func unfinished() async throws -> [(session: String, job: String?)] {
        try await store.openStreams(
            opened: SessionEvent.logKind(.sessionStarted), closedBy: SessionEvent.Kind.sessionFinished.rawValue,
            field: SessionEvent.Field.jobId
        ).compactMap { open in SessionEvent.session(inStream: open.stream).map { ($0, open.value) } }
    }

    /// Every session that started and never finished, of any job, oldest first.
    public func unfinishedSessions() async throws -> [String] {
        try await unfinished().map(\.session)
    }

    /// Errors that running the session again would meet again (the job's definition, a lab or
    /// repository that is not one, a VM that is gone). Database trouble, cancellation and
    /// passing I/O errors leave the session unfinished, to be resumed.
    static func isPermanent(_ error: any Error) -> Bool {
        switch error {
        case is PostgresError, is CancellationError: return false
        case is JobManagerError, is CatalogError: return true
        case let error as InfrastructureError:
            // A vCenter that refuses the login or the certificate, or cannot be reached, fails
            // the session with its reason (the job's retries and schedule run it again).
            return [.invalidInput, .unknownObject, .authenticationFailed, .untrustedCertificate, .unreachable].contains(error.code)
        case let error as RepositoryError: return [.invalidInput, .notARepository, .keyRequired, .wrongKey].contains(error.code)
        default: return false
        }
    }

    /// Ends a session that no runner can take up (its job, server or repository cannot be
    /// used): `failed`, or `stopped` when someone stopped it, with the reason.
    func end(session: String, state: SessionState, result: SessionEvent.Outcome, reason: String) async throws -> SessionReport {
        logger.error("session ended without running", metadata: ["session": "\(session)", "result": "\(result)", "reason": "\(reason)"])
        let recorder = try SessionRecorder(store: store, session: session, state: state, crashAfter: settings.crashAfterEvents)
        let finished = SessionEvent.Finished(
            result: result, processedBytes: 0, readBytes: 0, transferredBytes: 0, dedupeRatio: nil, compressionRatio: nil,
            durationSeconds: 0, busy: nil, bottleneck: nil, reason: reason)
        try await recorder.record(.sessionFinished, finished)
        return SessionReport(
            session: session, jobID: state.started?.jobId ?? "", trigger: state.started?.trigger, finished: finished, machines: [],
            events: await recorder.state.version,
            transferSeconds: 0)
    }

    /// Asks a running session to stop (any server runs it: it reads its control stream).
    public func requestStop(session: String, mode: ControlEvent.StopRequested.Mode, metadata: EventMetadata) async throws {
        let data = String(decoding: try SessionEvent.encoder().encode(ControlEvent.StopRequested(mode: mode)), as: UTF8.self)
        try await store.append(
            to: try StreamName(ControlEvent.stream(of: session)),
            events: [try NewEvent(type: "StopRequested", jsonData: data, metadata: metadata)])
    }

    /// Sessions of the job that started and never finished (a crash, a killed CLI): the ones
    /// to resume, oldest first. A name no job has or had is refused as not found.
    public func unfinishedSessions(job name: String) async throws -> [String] {
        let state = try await catalog.load()
        let id =
            try state.jobID(nowOrFormerlyNamed: name) ?? state.require(JobDefinition.self, named: name)
        return try await unfinished().filter { $0.job == id }.map(\.session)
    }

    /// Runs a begun session to its end, or resumes one that was interrupted. Throws
    /// `sessionBusy` if another process runs it right now.
    public func run(session: String) async throws -> SessionReport {
        let slots = try await TaskSlots(settings: store.pool.configuration.settings)
        return try await withClosing(slots) { slots in
            // The lock first, then the state: another server may have just finished it.
            guard try await slots.own(session: session) else {
                throw JobManagerError(.sessionBusy, "session \(session) is running in another process right now")
            }
            let events = try await store.readStream(try StreamName(SessionEvent.stream(of: session)), limit: 1_000_000)
            let state = SessionState(events: events)
            guard state.started != nil, let startedAt = events.first?.recordedAt else {
                throw JobManagerError(.noSuchSession, "there is no session \(session): see 'tidemark session list'")
            }
            if state.started?.copyOfJobId != nil {
                return try await runCopy(session: session, state: state, startedAt: startedAt, slots: slots)
            }
            let runner: SessionRunner
            do {
                runner = try await self.runner(for: session, state: state, startedAt: startedAt, slots: slots)
            } catch {
                guard Self.isPermanent(error) else { throw error }
                // The job cannot run as defined (its lab, server or repository is gone): the
                // session ends failed with the reason rather than blocking the job for ever.
                return try await end(session: session, state: state, result: .failed, reason: "\(error)")
            }
            let report: SessionReport
            do {
                report = try await runner.run()
            } catch {
                guard Self.isPermanent(error) else {
                    await runner.adapter.disconnect()
                    throw runner.withoutSecrets(error)
                }
                report = try await runner.abandon(reason: runner.secrets.scrub("\(error)"))
            }
            await runner.adapter.disconnect()
            return report
        }
    }
}
