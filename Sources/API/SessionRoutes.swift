import EventStore
import Foundation
import Hummingbird
import Identity
import NIOCore
import Postgres

/// `/api/v1/sessions`: sessions as `reporting.sessions` shows them (newest first, keyset
/// paging), one session with its tasks, and its events, as JSON pages or live as
/// Server-Sent Events.
struct SessionRoutes {
    let store: EventStore
    let hub: SessionEventHub

    func add(to group: RouterGroup<APIContext>) {
        group.get("sessions", use: list)
        group.get("sessions/:id", use: show)
        group.get("sessions/:id/events", use: events)
    }

    /// Newest first; `job`, `state`, `result` filter; `before=ID` continues after that session.
    @Sendable func list(_ request: Request, context: APIContext) async throws -> Response {
        _ = try context.require(.readSessions)
        let limit = try APIRequest.limit(request)
        let query = request.uri.queryParameters
        let job = try APIRequest.query(request, "job")
        let state = try query.get("state").map { try closed(String($0), "state", ["running", "finished"]) }
        let outcome = try query.get("result").map { try closed(String($0), "result", ["success", "warning", "failed", "stopped"]) }
        var before: String?
        if let cursor = query.get("before") {
            guard UUID(uuidString: String(cursor)) != nil else { throw APIProblem.badRequest("before is a session id (a uuid)") }
            before = cursor.lowercased()
        }
        let statement = ListQueries.sessions(job: job != nil, state: state != nil, result: outcome != nil, before: before != nil)
        var parameters: [any PostgresEncodable] = [limit]
        for value in [job, state, outcome, before] { if let value { parameters.append(value) } }
        let result = try await store.pool.query(statement, parameters)
        if before != nil, try result.decode(0, 2, as: Int64.self) == 0 {
            throw APIProblem.badRequest("before names no session: use the 'next' link of the previous page")
        }
        let items: String = try result.decode(0, 0)
        let count: Int64 = try result.decode(0, 1)
        var next = "null"
        if count == Int64(limit), let last = try result.decodeIfPresent(0, 3, as: String.self) {
            var link = "/api/v1/sessions?limit=\(limit)&before=\(last)"
            if let job { link += "&job=\(percentEncoded(job))" }
            if let state { link += "&state=\(state)" }
            if let outcome { link += "&result=\(outcome)" }
            next = "\"\(link)\""
        }
        return JSONResponse.text(#"{"items":\#(items),"next":\#(next)}"#)
    }

    /// `{"session": {...}, "tasks": [...]}`, as `session show --json` prints it. A session
    /// begun a moment ago and not projected yet is shown from the log (`running`, no tasks), so
    /// the URL a 202 gives answers at once.
    @Sendable func show(_ request: Request, context: APIContext) async throws -> Response {
        _ = try context.require(.readSessions)
        let id = try APIRequest.sessionID(context)
        let begun = try await store.pool.query(
            """
            SELECT json_build_object('session', json_build_object(
                     'session_id', $1::text, 'job_id', data ->> 'job_id', 'job_name', data ->> 'job_name', 'trigger', data ->> 'trigger',
                     'state', 'running', 'started_at', recorded_at), 'tasks', '[]'::json)::text
              FROM tidemark.events
             WHERE stream_id = 'session-' || $1 AND stream_version = 1
               AND NOT EXISTS (SELECT 1 FROM reporting.sessions WHERE session_id = $1)
            """, [id])
        if begun.rowCount == 1 { return JSONResponse.text(try begun.decode(0, 0)) }
        let result = try await store.pool.query(
            """
            SELECT json_build_object(
                     'session', (SELECT row_to_json(s) FROM reporting.sessions s WHERE s.session_id = $1),
                     'tasks', (SELECT coalesce(json_agg(row_to_json(t) ORDER BY t.task_id), '[]') FROM reporting.tasks t WHERE t.session_id = $1)
                   )::text,
                   EXISTS (SELECT 1 FROM reporting.sessions WHERE session_id = $1)
            """, [id])
        guard try result.decode(0, 1, as: Bool.self) else {
            throw APIProblem.notFound("no session has the id \(id): see GET /api/v1/sessions")
        }
        return JSONResponse.text(try result.decode(0, 0))
    }

    /// The session's events after `after` (a log position), `limit` at a time; with
    /// `Accept: text/event-stream`, the same and then each new one as it commits, until the
    /// session finishes. `Last-Event-ID` (the last position seen) resumes a dropped stream.
    @Sendable func events(_ request: Request, context: APIContext) async throws -> Response {
        _ = try context.require(.readSessions)
        let id = try APIRequest.sessionID(context)
        return try await events(
            request, stream: "session-\(id)", finishedBy: "SessionFinished",
            missing: "no session has the id \(id): see GET /api/v1/sessions")
    }

    /// A workflow stream's events (a session's, a restore's) as pages or live, until the event
    /// `finishedBy`; `missing` is the 404's detail.
    func events(_ request: Request, stream: String, finishedBy: String, missing: String) async throws -> Response {
        var after: Int64 = 0
        if let text = request.headers[LogEventJSON.lastEventID] ?? request.uri.queryParameters.get("after").map({ String($0) }) {
            guard let value = Int64(text), value >= 0 else {
                throw APIProblem.badRequest("after (or Last-Event-ID) is a log position, a whole number; '\(text)' is not")
            }
            after = value
        }
        guard let finishedAt = try await finishPosition(stream, finishedBy: finishedBy) else { throw APIProblem.notFound(missing) }
        let live = request.headers[.accept]?.contains("text/event-stream") == true
        if !live {
            let limit = try APIRequest.limit(request)
            let page = try await read(stream, after: after, limit: limit)
            let items = page.map(\.json).joined(separator: ",")
            let last = page.last?.position ?? after
            return JSONResponse.text(#"{"items":[\#(items)],"next_after":\#(last)}"#)
        }
        // A client that saw the end already (an EventSource reconnecting after it): 204 tells
        // it to stop reconnecting.
        if let end = finishedAt, after >= end { return Response(status: .noContent) }
        return await liveEvents(stream, after: after, finishedBy: finishedBy)
    }

    /// The catch-up from the log, then each event as it commits, until `finishedBy`.
    func liveEvents(_ stream: String, after start: Int64, finishedBy: String) async -> Response {
        // Subscribe first, then catch up: an event committed in between is signalled and read
        // once (positions only grow).
        let signals = await hub.subscribe(.stream(stream))
        let store = self.store
        return LiveEvents.response(
            signals: signals, after: start, form: \.stream,
            read: { after in try await Self.read(stream, after: after, limit: APIRequest.maximumLimit, store: store) },
            isLast: { $0.type == finishedBy })
    }

    /// nil: no such session; .some(nil): running; .some(position): finished at that position.
    func finishPosition(_ stream: String, finishedBy: String) async throws -> Int64?? {
        let result = try await store.pool.query(
            """
            SELECT EXISTS (SELECT 1 FROM tidemark.events WHERE stream_id = $1),
                   (SELECT position FROM tidemark.events WHERE stream_id = $1 AND event_type = $2)
            """, [stream, finishedBy])
        guard try result.decode(0, 0, as: Bool.self) else { return nil }
        return .some(try result.decodeIfPresent(0, 1, as: Int64.self))
    }

    func read(_ stream: String, after: Int64, limit: Int) async throws -> [LogEventJSON] {
        try await Self.read(stream, after: after, limit: limit, store: store)
    }

    static func read(_ stream: String, after: Int64, limit: Int, store: EventStore) async throws -> [LogEventJSON] {
        let result = try await store.pool.query(
            """
            SELECT position, event_type, \(LogEventJSON.streamColumn)
              FROM tidemark.events WHERE stream_id = $1 AND position > $2 ORDER BY position LIMIT $3
            """, [stream, after, limit])
        return try (0..<result.rowCount).map { row in
            LogEventJSON(position: try result.decode(row, 0), type: try result.decode(row, 1), json: try result.decode(row, 2))
        }
    }

    func closed(_ value: String, _ name: String, _ allowed: [String]) throws -> String {
        guard allowed.contains(value) else {
            throw APIProblem.badRequest("\(name) is one of \(allowed.joined(separator: ", ")), not '\(value)'")
        }
        return value
    }
}
