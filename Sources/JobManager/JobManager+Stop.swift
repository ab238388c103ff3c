import Catalog
import EventStore
import Foundation
import Postgres
import WorkflowEvents

extension JobManager {
    /// What `stop` did to a session.
    public enum StopOutcome: Sendable {
        /// A Job Manager runs the session: it reads the request within a second and stops.
        case asked
        /// No Job Manager ran it (a killed command, a session no server had taken): it was
        /// ended here, recorded as stopped by whom.
        case ended(SessionReport)
    }

    /// Stops a session wherever it is. The request goes on the control stream first, so a
    /// Job Manager that takes the session a moment later still stops it. Then, if this
    /// process can take the session's lock, nobody runs it: waiting would change nothing, so
    /// it is ended now — its snapshots swept where its infrastructure can still be reached,
    /// no restore point made for VMs in progress, the result `stopped` with who stopped it.
    public func stop(
        session: String, mode: ControlEvent.StopRequested.Mode, metadata: EventMetadata
    ) async throws -> StopOutcome {
        try await requestStop(session: session, mode: mode, metadata: metadata)
        let reason = "stopped by \(metadata.actor ?? "someone") (\(mode.rawValue)); no Job Manager was running it"
        // A process killed a moment ago still holds the lock until PostgreSQL has noticed its
        // connection is gone; a live Job Manager ends the session within a second of the request.
        // Either way a few seconds settle it, and the administrator learns which happened.
        let deadline = ContinuousClock.now + Self.stopSettleTime
        while true {
            if let report = try await endUnowned(session: session, result: .stopped, reason: reason) { return .ended(report) }
            let events = try await store.readStream(try StreamName(SessionEvent.stream(of: session)), limit: 1_000_000)
            if SessionState(events: events).finished != nil || ContinuousClock.now >= deadline { return .asked }
            try await Task.sleep(for: .milliseconds(250))
        }
    }

    /// How long `stop` keeps trying to take a session nobody seems to run before it leaves the
    /// request to whoever holds it.
    static let stopSettleTime = Duration.seconds(5)

    /// Ends a session that failed to run again and again with passing errors (a vCenter that
    /// answers every login with a fault): failed, with the last reason, instead of retrying
    /// for ever. Nil if another process runs it or it ended meanwhile.
    public func giveUp(session: String, reason: String) async throws -> SessionReport? {
        try await endUnowned(session: session, result: .failed, reason: reason)
    }

    /// Takes the session if nobody runs it and ends it with `result`: its snapshots swept
    /// where its infrastructure still answers, no restore point made for VMs in progress.
    private func endUnowned(session: String, result: SessionEvent.Outcome, reason: String) async throws -> SessionReport? {
        let slots = try await TaskSlots(settings: store.pool.configuration.settings)
        return try await withClosing(slots) { slots in
            guard try await slots.own(session: session) else { return nil }
            let events = try await store.readStream(try StreamName(SessionEvent.stream(of: session)), limit: 1_000_000)
            let state = SessionState(events: events)
            guard state.started != nil, state.finished == nil, let startedAt = events.first?.recordedAt else { return nil }
            let report: SessionReport
            // A copy session has no snapshots to sweep: it is simply ended.
            if state.started?.copyOfJobId == nil,
                let runner = try? await self.runner(for: session, state: state, startedAt: startedAt, slots: slots)
            {
                report = try await runner.abandon(reason: runner.secrets.scrub(reason), stopped: result == .stopped)
                await runner.adapter.disconnect()
            } else {
                // Its job, server or repository cannot be used any more: nothing to sweep with.
                report = try await end(session: session, state: state, result: result, reason: reason)
            }
            return report
        }
    }
}
