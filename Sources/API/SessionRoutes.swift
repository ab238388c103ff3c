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
        let job = query.get("job").map { String($0) }
        let state = try query.get("state").map { try closed(String($0), "state", ["running", "finished"]) }
        let outcome = try query.get("result").map { try closed(String($0), "result", ["success", "warning", "failed", "stopped"]) }
        var before: String?
        if let cursor = query.get("before") {
            guard UUID(uuidString: String(cursor)) != nil else { throw APIProblem.badRequest("before is a session id (a uuid)") }
            before = cursor.lowercased()
        }
        let result = try await store.pool.query(
            """
            WITH cursor AS (SELECT coalesce(started_at, '-infinity') AS started_at, session_id FROM reporting.sessions WHERE session_id = $5)
            SELECT coalesce(json_agg(row_to_json(s) ORDER BY coalesce(s.started_at, '-infinity') DESC, s.session_id DESC), '[]')::text, count(*),
                   (SELECT count(*) FROM cursor)
              FROM (SELECT r.* FROM reporting.sessions r
                     WHERE ($1::text IS NULL OR lower(r.job_name) = lower($1))
                       AND ($2::text IS NULL OR r.state = $2)
                       AND ($3::text IS NULL OR r.result = $3)
                       AND ($5::text IS NULL OR (coalesce(r.started_at, '-infinity'), r.session_id) < (SELECT started_at, session_id FROM cursor))
                     ORDER BY coalesce(r.started_at, '-infinity') DESC, r.session_id DESC LIMIT $4) s
            """, [job, state, outcome, limit, before])
        if before != nil, try result.decode(0, 2, as: Int64.self) == 0 {
            throw APIProblem.badRequest("before names no session: use the 'next' link of the previous page")
        }
        let items: String = try result.decode(0, 0)
        let count: Int64 = try result.decode(0, 1)
        var next = "null"
        if count == Int64(limit), let last = try lastSession(items) {
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
        let stream = "session-\(id)"
        var after: Int64 = 0
        if let text = request.headers[SessionEventJSON.lastEventID] ?? request.uri.queryParameters.get("after").map({ String($0) }) {
            guard let value = Int64(text), value >= 0 else {
                throw APIProblem.badRequest("after (or Last-Event-ID) is a log position, a whole number; '\(text)' is not")
            }
            after = value
        }
        guard let finishedAt = try await finishPosition(stream) else {
            throw APIProblem.notFound("no session has the id \(id): see GET /api/v1/sessions")
        }
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
        return await liveEvents(stream, after: after)
    }

    /// The catch-up from the log, then each event as it commits, until `SessionFinished`.
    /// Events are always read from the log (the hub only says one was committed), so live and
    /// paged events are the same JSON.
    func liveEvents(_ stream: String, after start: Int64) async -> Response {
        // Subscribe first, then catch up: an event committed in between is signalled and read
        // once (positions only grow).
        let signals = await hub.subscribe(stream: stream)
        let store = self.store
        let body = ResponseBody { writer in
            var last = start
            var finished = false
            /// Writes what the log holds after `last`; true at the session's end.
            func catchUp() async throws -> Bool {
                while true {
                    let page = try await Self.read(stream, after: last, limit: APIRequest.maximumLimit, store: store)
                    for event in page {
                        try await writer.write(ByteBuffer(string: event.serverSent))
                        last = event.position
                        if event.type == "SessionFinished" { return true }
                    }
                    if page.count < APIRequest.maximumLimit { return false }
                }
            }
            finished = try await catchUp()
            if !finished {
                for await signal in signals {
                    switch signal {
                    case .ping:
                        try await writer.write(ByteBuffer(string: ": ping\n\n"))
                    case .event(let position, _) where position > last:
                        finished = try await catchUp()
                    case .event:
                        continue
                    }
                    if finished { break }
                }
            }
            if !finished {
                try await writer.write(ByteBuffer(string: ": the feed ended early; reconnect with Last-Event-ID: \(last)\n\n"))
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }

    /// nil: no such session; .some(nil): running; .some(position): finished at that position.
    func finishPosition(_ stream: String) async throws -> Int64?? {
        let result = try await store.pool.query(
            """
            SELECT EXISTS (SELECT 1 FROM tidemark.events WHERE stream_id = $1),
                   (SELECT position FROM tidemark.events WHERE stream_id = $1 AND event_type = 'SessionFinished')
            """, [stream])
        guard try result.decode(0, 0, as: Bool.self) else { return nil }
        return .some(try result.decodeIfPresent(0, 1, as: Int64.self))
    }

    func read(_ stream: String, after: Int64, limit: Int) async throws -> [SessionEventJSON] {
        try await Self.read(stream, after: after, limit: limit, store: store)
    }

    static func read(_ stream: String, after: Int64, limit: Int, store: EventStore) async throws -> [SessionEventJSON] {
        let result = try await store.pool.query(
            """
            SELECT position, event_type,
                   json_build_object('position', position, 'type', event_type, 'stream_version', stream_version,
                                     'recorded_at', recorded_at, 'actor', metadata ->> 'actor', 'data', data)::text
              FROM tidemark.events WHERE stream_id = $1 AND position > $2 ORDER BY position LIMIT $3
            """, [stream, after, limit])
        return try (0..<result.rowCount).map { row in
            SessionEventJSON(position: try result.decode(row, 0), type: try result.decode(row, 1), json: try result.decode(row, 2))
        }
    }

    func closed(_ value: String, _ name: String, _ allowed: [String]) throws -> String {
        guard allowed.contains(value) else {
            throw APIProblem.badRequest("\(name) is one of \(allowed.joined(separator: ", ")), not '\(value)'")
        }
        return value
    }

    private func lastSession(_ items: String) throws -> String? {
        let rows = try JSONSerialization.jsonObject(with: Data(items.utf8)) as? [[String: Any]]
        return rows?.last?["session_id"] as? String
    }
}

/// One session event as the API shows it.
struct SessionEventJSON: Sendable {
    let position: Int64
    let type: String
    let json: String

    init(position: Int64, type: String, json: String) {
        self.position = position
        self.type = type
        self.json = json
    }

    /// The header a Server-Sent Events client resumes with.
    static let lastEventID = HTTPFields.Element.Name("Last-Event-ID")!

    /// `id: POSITION`, `event: TYPE`, `data: JSON` and a blank line.
    var serverSent: String { "id: \(position)\nevent: \(type)\ndata: \(json)\n\n" }
}
