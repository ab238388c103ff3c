import Catalog
import EventStore
import Foundation
import WorkflowEvents

/// The steps a check of a folder and a check of a repository service share: the interval
/// and budget it runs under, its plan recorded, its end recorded.
extension HealthCheck {
    /// The interval (0: every point is due) and the byte budget: the run's, else the repository's.
    static func limits(of definition: RepositoryDefinition, everyDays: Int?, budgetBytes: Int64?) -> (interval: Int, budget: Int64) {
        (
            everyDays ?? definition.verifyEveryDays ?? 0,
            budgetBytes ?? definition.verifyBudgetBytes ?? RepositoryDefinition.defaultVerifyBudgetBytes
        )
    }

    /// The repository's health stream read back (a check left open there resumes) and its writer.
    func openStream(of repositoryID: String, actor: String) async throws -> (HealthState, HealthWriter) {
        let stream = try StreamName(HealthEvent.stream(of: repositoryID))
        let state = HealthState(events: try await store.readStream(stream, limit: 10_000_000))
        return (state, HealthWriter(store: store, stream: stream, actor: actor, afterAppend: afterAppend))
    }

    /// `HealthCheckStarted` with the plan, before the first read.
    func recordStart(
        _ plan: HealthPlan, repositoryID: String, definition: RepositoryDefinition, trigger: Trigger,
        limits: (interval: Int, budget: Int64),
        state: inout HealthState, writer: HealthWriter
    ) async throws {
        let started = HealthEvent.Started(
            checkId: UUID().uuidString.lowercased(), repositoryId: repositoryID, repositoryName: definition.name, trigger: trigger.rawValue,
            verifyEveryDays: limits.interval, budgetBytes: limits.budget, planned: plan.planned, plannedBytes: plan.plannedBytes,
            due: plan.deferred)
        try await writer.record(&state, [try HealthWriter.Entry(.healthCheckStarted, started)], correlation: started.checkId)
        logger.notice(
            "health check started",
            metadata: ["repository": "\(definition.name)", "planned": "\(plan.planned.count)", "bytes": "\(plan.plannedBytes)"])
    }

    /// `HealthCheckFinished` with the totals the stream holds, and the run's report; nil when
    /// no check is open (another server finished it).
    func recordFinish(
        skipped: Int, damaged: [HealthEvent.PointDamaged], healed: [String], resumed: Bool, definition: RepositoryDefinition,
        state: inout HealthState, writer: HealthWriter
    ) async throws -> Report? {
        guard let done = state.open else { return nil }
        let check = done.started.checkId
        let finished = HealthEvent.Finished(
            checkId: check, result: done.damaged > 0 ? "damaged" : "clean", verified: done.verified.count, damaged: done.damaged,
            bytes: done.bytes, corruptChunks: done.corrupt, missingChunks: done.missing, healedChunks: done.healed.count, skipped: skipped)
        try await writer.record(&state, [try HealthWriter.Entry(.healthCheckFinished, finished)], correlation: check)
        logger.notice("health check finished", metadata: ["repository": "\(definition.name)", "result": "\(finished.result)"])
        return Report(finished: finished, damaged: damaged, healed: healed, resumed: resumed)
    }
}
