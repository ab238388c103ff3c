import Catalog
import EventStore
import Foundation
import WorkflowEvents

extension JobManager {
    /// A new session's `SessionStarted` as an append of its own, for a caller that lands it in
    /// one transaction with other events: the scheduler records the run it requested and the
    /// session it began together, under its lease, so a leader that lost its lease begins
    /// nothing. The stream must not exist yet.
    public func startAppend(
        jobID id: UUIDString, in state: CatalogState, trigger: SessionEvent.Trigger, session: String, actor: String
    ) throws
        -> StreamAppend
    {
        let started = try Self.started(jobID: id, in: state, trigger: trigger, session: session)
        let data = String(decoding: try SessionEvent.encoder().encode(started), as: UTF8.self)
        let metadata = EventMetadata(correlationID: UUID(uuidString: session), actor: actor, host: ProcessInfo.processInfo.hostName)
        return StreamAppend(
            stream: try StreamName(SessionEvent.stream(of: session)), expectedVersion: .noStream,
            events: [try NewEvent(type: SessionEvent.Kind.sessionStarted.rawValue, jsonData: data, metadata: metadata)])
    }

    /// The `SessionStarted` of a new session of the job as it is now (its current version),
    /// for `begin` and `startAppend` alike.
    static func started(
        jobID id: UUIDString, in state: CatalogState, trigger: SessionEvent.Trigger, session: String
    ) throws(JobManagerError)
        -> SessionEvent.Started
    {
        guard let job = state.jobs[id] else {
            throw JobManagerError(.invalidJob, "the job \(state.label(.job, id)) does not exist")
        }
        return SessionEvent.Started(
            sessionId: session, jobId: id, jobName: job.definition.name, jobVersion: job.version, trigger: trigger,
            copyOfJobId: job.definition.copy?.source)
    }
}
