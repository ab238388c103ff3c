import CatalogStore
import EventStore
import Foundation
import JobManager
import Postgres
import WorkflowEvents

/// A session the console bench runs itself, as a Job Manager on another server would: it
/// owns the session's claim first (so the measured server's runners leave the session to it,
/// as they leave one another's), appends its start and one task, then one checkpoint at a
/// time, each moving the task's progress by one percent, and finally its end.
struct BenchLiveSession {
    let session = UUID().uuidString.lowercased()
    let task = "bench-live/2000"
    /// A hundred equal steps: checkpoint `k` puts the progress bar at `k` percent.
    let sizeBytes: Int64 = 100 << 26
    private let slots: TaskSlots
    private let store: EventStore

    var stream: StreamName { get throws { try StreamName(SessionEvent.stream(of: session)) } }

    /// Claims the session and appends its start, its VM and its task's start; the position of
    /// the first event (where a follower of the session's events starts).
    static func begin(store: EventStore, service: PostgresConnectionSettings) async throws -> (BenchLiveSession, Int64) {
        let slots = try await TaskSlots(settings: service)
        let live = BenchLiveSession(slots: slots, store: store)
        guard try await slots.own(session: live.session) else { throw BenchError("could not claim the live session \(live.session)") }
        let state = try await CatalogStore(events: store).load()
        guard let job = state.jobs.values.min(by: { $0.id < $1.id }) else { throw BenchError("the bench history has no job") }
        let appended = try await store.append(
            to: try live.stream,
            events: [
                try live.event(
                    .sessionStarted,
                    SessionEvent.Started(
                        sessionId: live.session, jobId: job.id, jobName: job.definition.name, jobVersion: job.version, trigger: .manual)),
                try live.event(
                    .objectsEnumerated, SessionEvent.ObjectsEnumerated(vms: [.init(id: "bench-live", name: "bench-live", diskKeys: [2000])])
                ),
                try live.event(
                    .taskStarted,
                    SessionEvent.TaskStarted(
                        taskId: live.task, vmId: "bench-live", vmName: "bench-live", diskKey: 2000, sizeBytes: live.sizeBytes, attempt: 1)),
            ])
        return (live, appended.positions[0])
    }

    private init(slots: TaskSlots, store: EventStore) {
        self.slots = slots
        self.store = store
    }

    /// Appends checkpoint `step` (1...99) on its own; its position.
    func checkpoint(_ step: Int) async throws -> Int64 {
        let offset = sizeBytes / 100 * Int64(step)
        let progress = SessionEvent.TransferProgress(
            taskId: task, offset: offset, bytesRead: offset, bytesTransferred: offset / 3, newChunks: offset >> 20)
        return try await store.append(to: try stream, events: [try event(.transferCheckpointed, progress)]).positions[0]
    }

    /// The task's and the session's end, and the claim given back.
    func finish() async throws {
        let progress = SessionEvent.TransferProgress(
            taskId: task, offset: sizeBytes, bytesRead: sizeBytes, bytesTransferred: sizeBytes / 3, newChunks: sizeBytes >> 20)
        _ = try await store.append(
            to: try stream,
            events: [
                try event(.transferFinished, progress),
                try event(.taskFinished, SessionEvent.TaskFinished(taskId: task, result: .success)),
                try event(
                    .sessionFinished,
                    SessionEvent.Finished(
                        result: .success, processedBytes: sizeBytes, readBytes: sizeBytes, transferredBytes: sizeBytes / 3,
                        dedupeRatio: nil,
                        compressionRatio: nil, durationSeconds: 1, busy: nil, bottleneck: nil)),
            ])
        await slots.close()
    }

    private func event<T: Encodable>(_ kind: SessionEvent.Kind, _ payload: T) throws -> NewEvent {
        try NewEvent(
            type: kind.rawValue, jsonData: String(decoding: try SessionEvent.encoder().encode(payload), as: UTF8.self),
            metadata: EventMetadata(correlationID: UUID(uuidString: session), actor: "bench:console"))
    }
}
