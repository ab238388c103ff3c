import EventStore
import Foundation
import Hummingbird
import Identity
import Postgres

/// `/api/v1/events?category=C`: one category's events oldest first after `after` (a log
/// position), for dashboards and integrations that keep their own copy; with
/// `Accept: text/event-stream`, the same and then each new event as it commits, for as long as
/// the client stays (`Last-Event-ID` resumes). Reading a category needs the permission that
/// reads its objects: identity and sign-in records are the audit trail's.
struct EventFeedRoutes {
    let store: EventStore
    let hub: SessionEventHub

    /// Categories whose events only auditors and administrators read.
    static let auditCategories: Set<String> = ["user", "token", "access", "notify", "approval", "setting"]
    static let catalogCategories: Set<String> = ["server", "repository", "proxy", "throttle", "job"]

    static func permission(for category: String) -> Permission {
        if auditCategories.contains(category) { return .readAudit }
        if catalogCategories.contains(category) { return .readCatalog }
        return .readSessions
    }

    func add(to group: RouterGroup<APIContext>) {
        group.get("events", use: feed)
    }

    @Sendable func feed(_ request: Request, context: APIContext) async throws -> Response {
        let query = request.uri.queryParameters
        guard let text = query.get("category") else {
            throw APIProblem.badRequest("name the category to follow: ?category=session (or job, restore, publish, access...)")
        }
        guard text.utf8.count <= 40, text.allSatisfy({ $0.isASCII && $0.isLowercase && $0.isLetter }) else {
            throw APIProblem.badRequest("category is a stream category such as session, job or restore; '\(text)' is not one")
        }
        let category = String(text)
        _ = try context.require(Self.permission(for: category))
        var after: Int64 = 0
        if let position = request.headers[LogEventJSON.lastEventID] ?? query.get("after").map({ String($0) }) {
            guard let value = Int64(position), value >= 0 else {
                throw APIProblem.badRequest("after (or Last-Event-ID) is a log position, a whole number; '\(position)' is not")
            }
            after = value
        }
        let store = self.store
        if request.headers[.accept]?.contains("text/event-stream") == true {
            let signals = await hub.subscribe(.category(category))
            return LiveEvents.response(
                signals: signals, after: after, form: \.feed,
                read: { last in try await Self.read(category, after: last, limit: APIRequest.maximumLimit, store: store) },
                isLast: { _ in false })
        }
        let limit = try APIRequest.limit(request)
        let page = try await Self.read(category, after: after, limit: limit, store: store)
        let last = page.last?.position ?? after
        return JSONResponse.text(#"{"items":[\#(page.map(\.json).joined(separator: ","))],"next_after":\#(last)}"#)
    }

    static func read(_ category: String, after: Int64, limit: Int, store: EventStore) async throws -> [LogEventJSON] {
        let result = try await store.pool.query(
            """
            SELECT position, event_type, \(LogEventJSON.feedColumn)
              FROM tidemark.events WHERE category = $1 AND position > $2 ORDER BY position LIMIT $3
            """, [category, after, limit])
        return try (0..<result.rowCount).map { row in
            LogEventJSON(position: try result.decode(row, 0), type: try result.decode(row, 1), json: try result.decode(row, 2))
        }
    }
}
