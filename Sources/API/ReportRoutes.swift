import EventStore
import Foundation
import Hummingbird
import Identity
import Postgres

/// What the workflows left behind, as their `reporting` views show it: restore points,
/// restores, publishes and server checks newest first (keyset paging by time and id), each
/// one by its id; the projections' status (statistics are ``StatisticsRoutes``).
struct ReportRoutes {
    let store: EventStore

    /// A view listed newest first by `time`, ties broken by `id`; `before=ID` continues after
    /// that row. Filters are exact (names without case).
    struct NewestFirst: Sendable {
        let path: String
        let noun: String
        let view: String
        let time: String
        let id: String
        let filters: [Filter]
        let permission: Permission
        /// Restores and publishes are named by uuids; restore points by their VM and change
        /// (`vm-1-13841253`), checked as names are.
        var idIsUUID = true
    }

    struct Filter: Sendable {
        enum Kind: Sendable {
            /// Compared without case.
            case name
            case boolean
            case oneOf([String])
        }
        let parameter: String
        let column: String
        let kind: Kind
    }

    static let restorePoints = NewestFirst(
        path: "restore-points", noun: "restore point", view: "reporting.restore_points", time: "created_at", id: "restore_point_id",
        filters: [
            Filter(parameter: "job", column: "job_name", kind: .name), Filter(parameter: "vm", column: "vm_name", kind: .name),
            Filter(parameter: "available", column: "available", kind: .boolean),
            Filter(parameter: "damaged", column: "damaged", kind: .boolean),
        ], permission: .readCatalog, idIsUUID: false)
    static let restores = NewestFirst(
        path: "restores", noun: "restore", view: "reporting.restores", time: "requested_at", id: "restore_id",
        filters: [
            Filter(parameter: "state", column: "state", kind: .oneOf(["running", "finished"])),
            Filter(parameter: "result", column: "result", kind: .oneOf(["success", "warning", "failed", "stopped"])),
            Filter(parameter: "requested_by", column: "requested_by", kind: .name),
        ], permission: .readSessions)
    static let publishes = NewestFirst(
        path: "publishes", noun: "publish", view: "reporting.publishes", time: "requested_at", id: "publish_id",
        filters: [
            Filter(parameter: "state", column: "state", kind: .name), Filter(parameter: "vm", column: "vm_name", kind: .name),
        ], permission: .readSessions)

    static let serverChecks = NewestFirst(
        path: "server-checks", noun: "server check", view: "reporting.server_checks", time: "started_at", id: "check_id",
        filters: [
            Filter(parameter: "server", column: "server_name", kind: .name), Filter(parameter: "ok", column: "ok", kind: .boolean),
        ], permission: .readCatalog)

    func add(to group: RouterGroup<APIContext>) {
        for list in [Self.restorePoints, Self.restores, Self.publishes, Self.serverChecks] {
            group.get(RouterPath(list.path)) { request, context in
                _ = try context.require(list.permission)
                return try await page(request, list)
            }
            group.get(RouterPath("\(list.path)/:id")) { _, context in
                _ = try context.require(list.permission)
                return try await one(try Self.identifier(try context.parameters.require("id"), of: list), list)
            }
        }
        group.get("projections") { _, context in
            _ = try context.require(.readSessions)
            let result = try await store.pool.query(
                "SELECT coalesce(json_agg(row_to_json(p) ORDER BY p.projection), '[]')::text FROM reporting.projection_status p")
            return JSONResponse.text(#"{"items":\#(try result.decode(0, 0, as: String.self))}"#)
        }
    }

    /// Newest first, `limit` at a time, with the list's filters; `next` carries them on.
    func page(_ request: Request, _ list: NewestFirst) async throws -> Response {
        let limit = try APIRequest.limit(request)
        let query = request.uri.queryParameters
        var conditions: [String] = []
        var values: [any PostgresEncodable] = []
        var carried: [String] = []
        for filter in list.filters {
            guard let text = query.get(filter.parameter).map({ String($0) }) else { continue }
            values.append(try Self.value(text, of: filter))
            switch filter.kind {
            case .name: conditions.append("lower(r.\(filter.column)::text) = lower($\(values.count))")
            case .boolean: conditions.append("r.\(filter.column) = $\(values.count)::boolean")
            case .oneOf: conditions.append("r.\(filter.column)::text = $\(values.count)")
            }
            carried.append("\(filter.parameter)=\(percentEncoded(text))")
        }
        // Rows without a time sort last, as the oldest.
        func time(_ alias: String) -> String { "coalesce(\(alias).\(list.time), '-infinity'::timestamptz)" }
        func id(_ alias: String) -> String { "\(alias).\(list.id)::text" }
        var cursorCount = "0"
        if let before = query.get("before").map({ String($0) }) {
            values.append(try Self.identifier(before, of: list))
            let cursor = "(SELECT \(time("c")), \(id("c")) FROM \(list.view) c WHERE \(id("c")) = $\(values.count))"
            conditions.append("(\(time("r")), \(id("r"))) < \(cursor)")
            cursorCount = "(SELECT count(*) FROM \(list.view) c WHERE \(id("c")) = $\(values.count))"
        }
        values.append(limit)
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let result = try await store.pool.query(
            """
            WITH page AS (SELECT r.* FROM \(list.view) r \(filter) ORDER BY \(time("r")) DESC, \(id("r")) DESC LIMIT $\(values.count))
            SELECT coalesce((SELECT json_agg(row_to_json(p) ORDER BY \(time("p")) DESC, \(id("p")) DESC) FROM page p), '[]')::text,
                   (SELECT count(*) FROM page),
                   (SELECT \(id("p")) FROM page p ORDER BY \(time("p")) ASC, \(id("p")) ASC LIMIT 1),
                   \(cursorCount)
            """, values)
        if query.get("before") != nil, try result.decode(0, 3, as: Int64.self) == 0 {
            throw APIProblem.badRequest("before names no \(list.noun): use the 'next' link of the previous page")
        }
        let items: String = try result.decode(0, 0)
        var next = "null"
        if try result.decode(0, 1, as: Int64.self) == Int64(limit), let last = try result.decodeIfPresent(0, 2, as: String.self) {
            next = "\"" + (["/api/v1/\(list.path)?limit=\(limit)&before=\(percentEncoded(last))"] + carried).joined(separator: "&") + "\""
        }
        return JSONResponse.text(#"{"items":\#(items),"next":\#(next)}"#)
    }

    func one(_ id: String, _ list: NewestFirst) async throws -> Response {
        let result = try await store.pool.query("SELECT row_to_json(r)::text FROM \(list.view) r WHERE r.\(list.id)::text = $1", [id])
        guard result.rowCount == 1 else {
            throw APIProblem.notFound("no \(list.noun) has the id \(id): see GET /api/v1/\(list.path)")
        }
        return JSONResponse.text(try result.decode(0, 0))
    }

    static func value(_ text: String, of filter: Filter) throws -> String {
        switch filter.kind {
        case .name:
            return try APIRequest.text(text, filter.parameter)
        case .boolean:
            guard ["true", "false"].contains(text) else {
                throw APIProblem.badRequest("\(filter.parameter) is true or false, not '\(text)'")
            }
            return text
        case .oneOf(let allowed):
            guard allowed.contains(text) else {
                throw APIProblem.badRequest("\(filter.parameter) is one of \(allowed.joined(separator: ", ")), not '\(text)'")
            }
            return text
        }
    }

    static func identifier(_ text: String, of list: NewestFirst) throws -> String {
        guard list.idIsUUID else { return try APIRequest.text(text, "id") }
        guard UUID(uuidString: text) != nil else {
            throw APIProblem.badRequest("a \(list.noun) id is a uuid such as 0b3e5c1e-6f0a-4c47-9d2c-2f9a8d3e4b5a, not '\(text)'")
        }
        return text.lowercased()
    }
}
