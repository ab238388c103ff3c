import Catalog
import CatalogStore
import EventStore
import Foundation
import Logging
import Postgres
import WorkflowEvents

/// What a restore did, as `tidemark restore` prints it.
public struct RestoreReport: Sendable {
    public struct Machine: Sendable {
        public let vmName: String
        public let restorePointId: String
        /// The VM created (VM restores) or nil.
        public let target: String?
        public let files: [String]
        public let poweredOn: Bool
    }

    public let restore: String
    public let what: RestoreEvent.What
    public let finished: RestoreEvent.Finished
    public let machines: [Machine]
    public let events: Int64
}

/// The restore workflow, the Job Manager's second: a restore is requested (every input
/// checked, then `RestoreRequested` recorded with who asked and why), then run or resumed by
/// `run(restore:)` like a backup session — claimed by one process, each step an event, a crash
/// resumed from the stream.
public struct RestoreManager: Sendable {
    public let store: EventStore
    public let catalog: CatalogStore
    public let settings: JobManagerSettings
    public let adapters: AdapterFactory
    let logger: Logger

    public init(
        store: EventStore, settings: JobManagerSettings = JobManagerSettings(), adapters: AdapterFactory = .lab,
        logger: Logger = Logger(label: "tidemark.restore")
    ) {
        self.store = store
        self.catalog = CatalogStore(events: store, logger: logger)
        self.settings = settings
        self.adapters = adapters
        self.logger = logger
    }

    /// Checks the order and records `RestoreRequested` (the actor in `metadata`); returns the
    /// restore's id. A refused order records nothing. `admit` sees the planned request (the
    /// VMs and the points' jobs, resolved) before anything is recorded and may refuse it: the
    /// API's check of a restore operator's limit.
    public func request(
        _ order: RestoreOrder, metadata: EventMetadata, admit: @Sendable (RestoreEvent.Requested) throws -> Void = { _ in }
    ) async throws -> String {
        let id = UUID().uuidString.lowercased()
        let requested = try await RestorePlanner(manager: self).plan(order, restoreID: id)
        try admit(requested)
        var metadata = metadata
        metadata.correlationID = UUID(uuidString: id)
        let recorder = try RestoreRecorder(
            store: store, restore: id, state: RestoreState(), metadata: metadata, crashAfter: settings.crashAfterEvents)
        try await recorder.record(.requested, requested)
        logger.info("restore requested", metadata: ["restore": "\(id)", "what": "\(requested.what)", "actor": "\(metadata.actor ?? "")"])
        return id
    }

    /// Every restore requested and not finished, oldest first: the work left after a crash.
    public func unfinished() async throws -> [String] {
        try await store.openStreams(
            opened: RestoreEvent.logKind(.requested), closedBy: RestoreEvent.Kind.finished.rawValue, field: RestoreEvent.Field.restoreId
        ).compactMap { RestoreEvent.restore(inStream: $0.stream) }
    }

    /// Whether this host may take the restore up: a VM restore anywhere; a disk restore or an
    /// export only on the host that asked, since its files were checked there.
    public func mayRun(restore: String, host: String = ProcessInfo.processInfo.hostName) async throws -> Bool {
        let events = try await store.readStream(try StreamName(RestoreEvent.stream(of: restore)), limit: 1)
        guard let first = events.first, let requested = RestoreState(events: [first]).requested else { return false }
        if requested.what == .vm { return true }
        return (try? first.metadata())?.host == host
    }

    /// Runs a requested restore to its end, or resumes one that was interrupted. Throws
    /// `busy` if another process runs it right now.
    public func run(restore: String) async throws -> RestoreReport {
        let slots = try await TaskSlots(settings: store.pool.configuration.settings)
        return try await withClosing(slots) { slots in
            guard try await slots.own(session: restore) else {
                throw RestoreError(.busy, "restore \(restore) is running in another process right now")
            }
            let stream = try StreamName(RestoreEvent.stream(of: restore))
            let events = try await store.readStream(stream, limit: 1_000_000)
            let state = RestoreState(events: events)
            guard state.requested != nil else {
                throw RestoreError(.noSuchRestore, "there is no restore \(restore): see 'tidemark session list'")
            }
            let recorder = try RestoreRecorder(
                store: store, restore: restore, state: state,
                metadata: EventMetadata(
                    correlationID: UUID(uuidString: restore), actor: "job-manager", host: ProcessInfo.processInfo.hostName),
                crashAfter: settings.crashAfterEvents)
            return try await RestoreRunner(manager: self, restore: restore, recorder: recorder, slots: slots).run()
        }
    }
}
