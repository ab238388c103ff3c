import Foundation
import Hummingbird
import NIOCore

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
}

/// Server-Sent Events from the log: what it holds after the client's position, then each new
/// event as the hub signals it, until `isLast` says the feed is complete (a session's
/// `SessionFinished`; a category's feed never is). Events are always read from the log (the
/// hub only says one was committed), so live and paged events are the same JSON.
enum LiveEvents {
    static func response(
        signals: AsyncStream<SessionEventHub.Signal>, after start: Int64,
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
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }
}
