import EventStore
import Foundation
import Hummingbird
import Postgres

/// Read-only lists of the catalog's other objects, as their `reporting` views show them:
/// `/api/v1/servers`, `/repositories`, `/proxies`, `/throttling-rules`.
struct CatalogRoutes {
    let store: EventStore

    /// Path → (view, the column it is ordered and paged by).
    static let lists: [(path: String, view: String, key: String)] = [
        ("servers", "reporting.managed_servers", "server_name"),
        ("repositories", "reporting.repositories", "repository_name"),
        ("proxies", "reporting.proxies", "proxy_name"),
        ("throttling-rules", "reporting.throttling_rules", "rule_name"),
    ]

    func add(to group: RouterGroup<APIContext>) {
        for list in Self.lists {
            group.get(RouterPath(list.path)) { request, context in
                _ = try context.require(.readCatalog)
                return try await page(request, view: list.view, key: list.key, path: list.path)
            }
        }
    }

    /// `limit` rows ordered by `key`, after `after`; `next` links the following page.
    func page(_ request: Request, view: String, key: String, path: String) async throws -> Response {
        let limit = try APIRequest.limit(request)
        let after = request.uri.queryParameters.get("after").map { String($0) } ?? ""
        let result = try await store.pool.query(
            """
            SELECT coalesce(json_agg(row_to_json(v) ORDER BY v.\(key)), '[]')::text, count(*), max(v.\(key))
              FROM (SELECT * FROM \(view) WHERE \(key) > $1 ORDER BY \(key) LIMIT $2) v
            """, [after, limit])
        let items: String = try result.decode(0, 0)
        let count: Int64 = try result.decode(0, 1)
        let last = try result.decodeIfPresent(0, 2, as: String.self)
        let next = count == Int64(limit) ? last.map { "\"/api/v1/\(path)?limit=\(limit)&after=\(percentEncoded($0))\"" } ?? "null" : "null"
        return JSONResponse.text(#"{"items":\#(items),"next":\#(next)}"#)
    }
}
