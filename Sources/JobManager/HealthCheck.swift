import BlockingIO
import Catalog
import Dispatch
import EventStore
import Foundation
import Logging
import Repository
import WorkflowEvents

/// A repository health check, as PBS verify jobs and Veeam's health check do it: verify
/// the restore points not verified for a while, oldest first, within a byte budget; set
/// corrupt chunks aside so the next backup stores their blocks again; confirm the heal.
///
/// Every step is an event on `health-<repository id>` (see `HealthEvent`): the plan
/// (`HealthCheckStarted`) before the first read, each restore point's outcome with the
/// chunks it found bad in one append, heals, and the end. A check that crashed is resumed
/// by the next run from its stream; the stream's expected version makes a second checker
/// of the same repository (another server) give way instead of interleaving.
public struct HealthCheck: Sendable {
    public enum Trigger: String, Sendable {
        case scheduled, manual
    }

    /// What a check did, for the command line and the logs.
    public struct Report: Sendable {
        public let finished: HealthEvent.Finished
        public let damaged: [HealthEvent.PointDamaged]
        public let healed: [String]
        /// True when this run finished a check an earlier run had started.
        public let resumed: Bool
    }

    let store: EventStore
    let logger: Logger
    /// For a repository service: its token (the secrets folder) and staging folder.
    let settings: JobManagerSettings
    /// Called after each append with the stream's version (the crash tests' hook).
    let afterAppend: (@Sendable (Int64) throws -> Void)?

    public init(
        store: EventStore, logger: Logger = Logger(label: "tidemark.health"), settings: JobManagerSettings = JobManagerSettings(),
        afterAppend: (@Sendable (Int64) throws -> Void)? = nil
    ) {
        self.store = store
        self.settings = settings
        self.logger = logger
        self.afterAppend = afterAppend
    }

    /// Runs (or resumes) a check of the repository. Returns nil when nothing is due: no
    /// restore point older than the interval, no heal to confirm, no check to resume.
    /// `everyDays`: the interval (nil: the repository's; 0: every restore point is due).
    public func run(
        repositoryID: String, definition: RepositoryDefinition, trigger: Trigger, actor: String, everyDays: Int? = nil,
        budgetBytes: Int64? = nil, now: Date = Date()
    ) async throws -> Report? {
        if definition.isRemote {
            return try await runThroughService(
                repositoryID: repositoryID, definition: definition, trigger: trigger, actor: actor, everyDays: everyDays,
                budgetBytes: budgetBytes, now: now)
        }
        let repository = try await Self.blocking { () throws(RepositoryError) in
            try BackupRepository.open(at: URL(fileURLWithPath: definition.path))
        }
        guard !repository.isEncrypted else {
            throw RepositoryError(
                .keyRequired,
                "repository '\(definition.name)' is encrypted: health checks need its key, which the catalog does not hold yet")
        }
        let health = RepositoryHealth(repository: repository)
        var (state, writer) = try await openStream(of: repositoryID, actor: actor)
        let resumed = state.open != nil
        if state.open == nil {
            let limits = Self.limits(of: definition, everyDays: everyDays, budgetBytes: budgetBytes)
            let (interval, budget) = limits
            let known = state
            let (plan, heals) = try await Self.blocking { () throws(RepositoryError) -> (HealthPlan, Bool) in
                var candidates: [HealthPlan.Candidate] = []
                for point in try health.finishedRestorePoints() {
                    candidates.append(HealthPlan.Candidate(restorePoint: point, createdAt: try repository.createdAt(restorePoint: point)))
                }
                let heals = !(try health.restoredQuarantinedChunks()).isEmpty
                let plan = try HealthPlan.make(
                    candidates, state: known, everyDays: interval, budgetBytes: budget, healsPending: heals, now: now,
                    bytes: { point throws(RepositoryError) in try health.bytes(of: point) })
                return (plan, heals)
            }
            guard !plan.planned.isEmpty || heals else { return nil }
            try await recordStart(
                plan, repositoryID: repositoryID, definition: definition, trigger: trigger, limits: limits, state: &state, writer: writer)
        }
        guard let open = state.open else { return nil }
        let check = open.started.checkId
        // Heals first, so the damaged restore points planned first are verified against them.
        let alreadyHealed = open.healed
        let restored = try await Self.blocking { () throws(RepositoryError) in try health.restoredQuarantinedChunks() }
        var healed: [String] = []
        for chunk in restored {
            if !alreadyHealed.contains(chunk.hex) {
                try await writer.record(
                    &state, [try HealthWriter.Entry(.chunkHealed, HealthEvent.ChunkHealed(checkId: check, chunk: chunk.hex))],
                    correlation: check)
            }
            try await Self.blocking { () throws(RepositoryError) in try health.forgetQuarantinedCopy(chunk) }
            healed.append(chunk.hex)
        }
        var verdicts: [ChunkID: ChunkProblem?] = [:]
        var damaged: [HealthEvent.PointDamaged] = []
        var skipped = 0
        for point in open.started.planned where !(state.open?.verified.contains(point) ?? true) {
            let known = verdicts
            let outcome = try await Self.blocking {
                () throws(RepositoryError) -> (RepositoryHealth.PointReport, [ChunkID: ChunkProblem?], [ChunkID])? in
                // Retention may have removed it since the plan was made.
                guard (try? repository.disks(of: point))?.isEmpty == false else { return nil }
                var verdicts = known
                let report = try health.verify(point, verdicts: &verdicts)
                // Corrupt chunks are set aside before the outcome is recorded; a crash in
                // between finds them in quarantine on resume and records them as such.
                var quarantined: [ChunkID] = []
                for chunk in report.corrupt.keys.sorted(by: { $0.hex < $1.hex }) {
                    if try health.quarantine(chunk) { quarantined.append(chunk) }
                }
                return (report, verdicts, quarantined)
            }
            guard let outcome else {
                skipped += 1
                continue
            }
            let (report, learnt, quarantined) = outcome
            verdicts = learnt
            let entries = try Self.entries(
                for: report, quarantined: Set(quarantined), check: check, isQuarantined: { repository.chunks.isQuarantined($0) })
            if let damage = entries.damage { damaged.append(damage) }
            try await writer.record(&state, entries.entries, correlation: check)
            if !report.damage.isEmpty {
                logger.error("restore point damaged", metadata: ["restore_point": "\(point)", "references": "\(report.damage.count)"])
            }
        }
        return try await recordFinish(
            skipped: skipped, damaged: damaged, healed: healed, resumed: resumed, definition: definition, state: &state, writer: writer)
    }

    /// One restore point's outcome as one append: the bad chunks it met first seen in this
    /// check, its damage, and its verification.
    static func entries(
        for report: RepositoryHealth.PointReport, quarantined: Set<ChunkID>, check: String, isQuarantined: (ChunkID) -> Bool
    ) throws -> (entries: [HealthWriter.Entry], damage: HealthEvent.PointDamaged?) {
        var entries: [HealthWriter.Entry] = []
        let point = report.restorePoint
        for (chunk, problem) in report.corrupt.sorted(by: { $0.key.hex < $1.key.hex }) {
            entries.append(
                try HealthWriter.Entry(
                    .chunkCorrupt,
                    HealthEvent.ChunkFound(
                        checkId: check, chunk: chunk.hex, restorePointId: point, problem: problem, quarantined: quarantined.contains(chunk))
                ))
        }
        for chunk in report.missing.sorted(by: { $0.hex < $1.hex }) {
            // Missing because a check set it aside earlier: corrupt, and already quarantined.
            let inQuarantine = isQuarantined(chunk)
            entries.append(
                try HealthWriter.Entry(
                    inQuarantine ? .chunkCorrupt : .chunkMissing,
                    HealthEvent.ChunkFound(
                        checkId: check, chunk: chunk.hex, restorePointId: point,
                        problem: inQuarantine ? "in quarantine as corrupt, not stored again by a backup yet" : "missing",
                        quarantined: inQuarantine)))
        }
        var damage: HealthEvent.PointDamaged?
        if !report.damage.isEmpty {
            let event = HealthEvent.PointDamaged(
                checkId: check, restorePointId: point, references: report.damage.count,
                damage: report.damage.prefix(100).map {
                    HealthEvent.Damage(disk: $0.disk, offset: $0.offset, chunk: $0.chunk?.hex, problem: $0.problem)
                })
            entries.append(try HealthWriter.Entry(.restorePointDamaged, event))
            damage = event
        }
        entries.append(
            try HealthWriter.Entry(
                .restorePointVerified,
                HealthEvent.PointVerified(checkId: check, restorePointId: point, bytes: report.bytes, damaged: !report.damage.isEmpty)))
        return (entries, damage)
    }

    /// Repository file work (reading every chunk, renames with fsync) runs on a thread of its
    /// own, never on Swift's cooperative threads, and not on the shared I/O pool, which a
    /// check reading a whole repository would hold for minutes.
    static let io = BlockingIOPool(name: "tidemark-health", threads: 1)

    static func blocking<T: Sendable>(_ work: @escaping @Sendable () throws(RepositoryError) -> T) async throws(RepositoryError) -> T {
        try await io.run(work)
    }
}

/// Appends a check's events at the version the fold reached, folding them in as it goes.
final class HealthWriter: Sendable {
    struct Entry: Sendable {
        let kind: HealthEvent.Kind
        let data: String

        init<Payload: Encodable>(_ kind: HealthEvent.Kind, _ payload: Payload) throws {
            self.kind = kind
            self.data = String(decoding: try SessionEvent.encoder().encode(payload), as: UTF8.self)
        }
    }

    let store: EventStore
    let stream: StreamName
    let actor: String
    let afterAppend: (@Sendable (Int64) throws -> Void)?

    init(store: EventStore, stream: StreamName, actor: String, afterAppend: (@Sendable (Int64) throws -> Void)?) {
        self.store = store
        self.stream = stream
        self.actor = actor
        self.afterAppend = afterAppend
    }

    func record(_ state: inout HealthState, _ entries: [Entry], correlation: String) async throws {
        let metadata = EventMetadata(correlationID: UUID(uuidString: correlation), actor: actor, host: ProcessInfo.processInfo.hostName)
        let events = try entries.map { try NewEvent(type: $0.kind.rawValue, jsonData: $0.data, metadata: metadata) }
        let expected: ExpectedVersion = state.version == 0 ? .noStream : .exact(state.version)
        try await store.append(to: stream, expectedVersion: expected, events: events)
        let now = Date()
        for entry in entries { state.apply(type: entry.kind.rawValue, data: entry.data, version: state.version + 1, at: now) }
        try afterAppend?(state.version)
    }
}
