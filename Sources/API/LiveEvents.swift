import EventStore
import Foundation
import Hummingbird
import NIOCore
import Postgres

/// One event of the log as the API shows it: `{"position", "type", "stream_version",
/// "recorded_at", "actor", "data"}` (a feed adds `stream`).
struct LogEventJSON: Sendable {
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

    /// An event's JSON as a workflow stream's events show it (a session's, a restore's).
    static let streamColumn = """
        json_build_object('position', position, 'type', event_type, 'stream_version', stream_version,
                          'recorded_at', recorded_at, 'actor', metadata ->> 'actor', 'data', data)::text
        """
    /// An event's JSON as a category's feed shows it: with its stream, and without the
    /// digests a token or a password leaves in identity events.
    static let feedColumn = """
        json_build_object('position', position, 'stream', stream_id, 'type', event_type, 'stream_version', stream_version,
                          'recorded_at', recorded_at, 'actor', metadata ->> 'actor', 'data', data - 'sha256' - 'password_hash')::text
        """

    /// One form of an event: its JSON, and its whole Server-Sent Events frame, built once by
    /// the hub for every client that follows it (a `ByteBuffer` is shared, not copied, so two
    /// hundred clients write the same bytes without two hundred strings built).
    struct Form: Sendable {
        let json: String
        let frame: ByteBuffer
    }

    /// Both forms of one event, as the live hub hands them to its clients.
    struct Forms: Sendable {
        let stream: Form
        let feed: Form
    }

    /// The event at `position` as its query reads it.
    static let formsStatement = PostgresStatement(
        name: "tidemark_live_event_forms", sql: "SELECT event_type, \(streamColumn), \(feedColumn) FROM tidemark.events WHERE position = $1"
    )

    /// Both forms of the event at `position`, by the same SQL the pages use, so live and
    /// paged events are the same JSON.
    static func forms(at position: Int64, store: EventStore) async throws -> Forms? {
        let result = try await store.pool.query(formsStatement, [position])
        guard result.rowCount == 1 else { return nil }
        let type: String = try result.decode(0, 0)
        func form(_ json: String) -> Form {
            Form(json: json, frame: ByteBuffer(string: LogEventJSON(position: position, type: type, json: json).serverSent))
        }
        return Forms(stream: form(try result.decode(0, 1)), feed: form(try result.decode(0, 2)))
    }
}

/// Server-Sent Events from the log: what it holds after the client's position, then each new
/// event as the hub signals it, until `isLast` says the feed is complete (a session's
/// `SessionFinished`; a category's feed never is). A signalled event comes with its JSON
/// (`form` picks the stream's or the feed's), read by the hub with the pages' own SQL; one
/// without is read from the log here.
///
/// The hub's signals follow the log in position order with no gap (a client that falls
/// behind is dropped, never skipped over), and the catch-up read comes after the
/// subscription: so the first signal after `last` is the next event, and each later one the
/// one after.
enum LiveEvents {
    static func response(
        signals: AsyncStream<SessionEventHub.Signal>, after start: Int64,
        form: @escaping @Sendable (LogEventJSON.Forms) -> LogEventJSON.Form,
        read: @escaping @Sendable (Int64) async throws -> [LogEventJSON], isLast: @escaping @Sendable (LogEventJSON) -> Bool
    ) -> Response {
        let body = ResponseBody { writer in
            var last = start
            var finished = false
            /// Writes what the log holds after `last`; true at the feed's end.
            func catchUp() async throws -> Bool {
                while true {
                    let page = try await read(last)
                    for event in page {
                        try await writer.write(ByteBuffer(string: event.serverSent))
                        last = event.position
                        if isLast(event) { return true }
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
                    case .event(let position, let type, .some(let forms)) where position > last:
                        let chosen = form(forms)
                        let event = LogEventJSON(position: position, type: type, json: chosen.json)
                        try await writer.write(chosen.frame)
                        last = position
                        finished = isLast(event)
                    case .event(let position, _, nil) where position > last:
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
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }
}
