import EventStore
import Foundation
import Hummingbird
import Replay
import WorkflowEvents

/// `GET /api/v1/sessions/{id}/timeline`: a session (a backup's or a restore's) told again from
/// its events, as `tidemark session replay` tells it: each event's time from the start, its
/// lane (the task it belongs to) and a line for people, in pages by stream version. With
/// `?at=SECONDS`, where every task stood at that instant instead.
struct TimelineRoutes {
    let store: EventStore

    func add(to group: RouterGroup<APIContext>) {
        group.get("sessions/:id/timeline", use: timeline)
    }

    /// Seconds from the first event, to the millisecond.
    static func offset(_ event: RecordedEvent, from start: RecordedEvent) -> Double {
        (event.recordedAt.timeIntervalSince(start.recordedAt) * 1000).rounded() / 1000
    }

    @Sendable func timeline(_ request: Request, context: APIContext) async throws -> Response {
        _ = try context.require(.readSessions)
        let id = try APIRequest.sessionID(context)
        let query = request.uri.queryParameters
        var stream = try StreamName(SessionEvent.stream(of: id))
        var first = try await store.readStream(stream, limit: 1)
        if first.isEmpty {
            stream = try StreamName(RestoreEvent.stream(of: id))
            first = try await store.readStream(stream, limit: 1)
        }
        guard let start = first.first else {
            throw APIProblem.notFound("no session or restore has the id \(id): see GET /api/v1/sessions and GET /api/v1/restores")
        }
        if let text = query.get("at") {
            guard let at = Double(text), at >= 0, at <= 1e9 else {
                throw APIProblem.badRequest("at counts seconds from the session's start: a number from 0, not '\(text)'")
            }
            let events = try await store.readStream(stream, limit: 1_000_000)
            // Compared at the millisecond the entries show, so the last entry's offset includes it.
            let state = SessionTimeline.state(of: events.filter { Self.offset($0, from: start) <= at }, at: at)
            return try JSONResponse.object(["session_id": id, "at": at, "state": state])
        }
        let limit = try APIRequest.limit(request)
        var after: Int64 = 0
        if let text = query.get("after") {
            guard let value = Int64(text), value >= 0 else {
                throw APIProblem.badRequest(
                    "after is the stream version of the last entry seen (next_after), a whole number; '\(text)' is not")
            }
            after = value
        }
        let events = try await store.readStream(stream, from: after + 1, limit: limit)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let items: [[String: Any]] = events.map { event in
            let lane = SessionTimeline.task(of: event)
            return [
                "version": event.streamVersion, "position": event.position, "type": event.type,
                "recorded_at": formatter.string(from: event.recordedAt),
                "offset_seconds": Self.offset(event, from: start),
                "lane": lane ?? NSNull(), "text": SessionTimeline.describe(event, task: lane),
            ]
        }
        return try JSONResponse.object([
            "session_id": id, "started_at": formatter.string(from: start.recordedAt), "items": items,
            "next_after": events.last?.streamVersion ?? after,
        ])
    }
}
