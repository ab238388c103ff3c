import Foundation
import WorkflowEvents

extension JobManager {
    /// Runs (or resumes) a backup copy job's session: its plan and target repository, then
    /// `CopySessionRunner`. As for a backup, an error running it again would meet again ends
    /// it failed with the reason; passing ones leave it unfinished, to be resumed.
    func runCopy(session: String, state: SessionState, startedAt: Date, slots: TaskSlots) async throws -> SessionReport {
        guard let started = state.started else { throw JobManagerError(.noSuchSession, "there is no session \(session)") }
        let runner: CopySessionRunner
        do {
            let plan = try await SessionPlan.resolve(session: session, started: started, catalog: catalog)
            let target = try await plan.openRepository(store: store, settings: settings)
            runner = try CopySessionRunner(context: context, plan: plan, target: target, state: state, startedAt: startedAt, slots: slots)
        } catch {
            guard Self.isPermanent(error) else { throw error }
            return try await end(session: session, state: state, result: .failed, reason: "\(error)")
        }
        do {
            return try await runner.run()
        } catch {
            guard Self.isPermanent(error) else { throw error }
            return try await runner.abandon(reason: "\(error)")
        }
    }
}
