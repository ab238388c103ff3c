import EventStore
import Foundation
import Hummingbird
import Postgres

/// `/api/v1/audit`: `reporting.audit_trail` newest first — catalog and identity changes,
/// sign-in records, notification channels, and the requests that started workflows (manual
/// starts, stops, restores, publishes) — each with who made it and from where. Paged by log
/// position (`before`), filtered by `category` and `actor`.
struct AuditRoutes {
    let store: EventStore

    func add(to group: RouterGroup<APIContext>) {
        group.get("audit", use: list)
    }

    @Sendable func list(_ request: Request, context: APIContext) async throws -> Response {
        _ = try context.require(.readAudit)
        let limit = try APIRequest.limit(request)
        let query = request.uri.queryParameters
        let before = try query.get("before").map { text -> Int64 in
            guard let position = Int64(text), position > 0 else {
                throw APIProblem.badRequest("before is a log position, a whole number above 0; '\(text)' is not")
            }
            return position
        }
        let category = try query.get("category").map { text -> String in
            guard text.utf8.count <= 40, !text.isEmpty, text.allSatisfy({ $0.isLetter && $0.isASCII && $0.isLowercase }) else {
                throw APIProblem.badRequest("category is a stream category such as job, user, access or restore; '\(text)' is not one")
            }
            return String(text)
        }
        let actor = try APIRequest.query(request, "actor")
        let result = try await store.pool.query(
            """
            WITH page AS (SELECT a.* FROM reporting.audit_trail a
                           WHERE ($1::bigint IS NULL OR a.position < $1)
                             AND ($2::text IS NULL OR a.category = $2)
                             AND ($3::text IS NULL OR a.actor = $3)
                           ORDER BY a.position DESC LIMIT $4)
            SELECT coalesce((SELECT json_agg(row_to_json(p) ORDER BY p.position DESC) FROM page p), '[]')::text,
                   (SELECT count(*) FROM page), (SELECT min(position) FROM page)
            """, [before, category, actor, limit])
        let items: String = try result.decode(0, 0)
        var next = "null"
        if try result.decode(0, 1, as: Int64.self) == Int64(limit), let last = try result.decodeIfPresent(0, 2, as: Int64.self) {
            var link = "/api/v1/audit?limit=\(limit)&before=\(last)"
            if let category { link += "&category=\(category)" }
            if let actor { link += "&actor=\(percentEncoded(actor))" }
            next = "\"\(link)\""
        }
        return JSONResponse.text(#"{"items":\#(items),"next":\#(next)}"#)
    }
}
