import Catalog
import CatalogStore
import EventStore
import Foundation
import Hummingbird
import Postgres

/// Statistics over time, as JSON or as CSV (`format=csv` or `Accept: text/csv`) for a
/// spreadsheet: sessions and bytes per day, each repository's per day, each job's sessions
/// summed up, and one row per session (duration, bytes, dedupe and compression ratios,
/// bottleneck) in a span, for one job or all. Rows come from the `reporting` views, so an
/// export says what SQL tools say.
/// Days differ on purpose: `reporting.daily_statistics` counts a session on the UTC day it
/// finished (when its bytes are known), the sessions' rows by the day it started.
struct StatisticsRoutes {
    let store: EventStore
    let catalog: CatalogStore

    /// A CSV of sessions holds at most this many rows; a wider one is refused with what to
    /// narrow, not cut short.
    static let maximumSessionRows = 20_000

    func add(to group: RouterGroup<APIContext>) {
        group.get("statistics/daily", use: daily)
        group.get("statistics/repositories", use: repositories)
        group.get("statistics/jobs", use: jobs)
        group.get("statistics/sessions", use: sessions)
    }

    /// One row per day from `from` to `to`, oldest first; days without sessions are absent.
    @Sendable func daily(_ request: Request, context: APIContext) async throws -> Response {
        _ = try context.require(.readSessions)
        let span = try DaySpan(request)
        let csv = try CSVTable.wanted(request)
        return try await spanRows(
            "SELECT * FROM reporting.daily_statistics r WHERE r.day BETWEEN $1::date AND $2::date", order: "r.day", parameters: [],
            span: span, csv: csv, fileName: "tidemark-daily")
    }

    /// A span's rows (`rows` takes the span as `$1` and `$2`, then `parameters`) as CSV, or as
    /// `{"from", "to", "items"}` with the rows in `order` (of the alias `r`).
    func spanRows(
        _ rows: String, order: String, parameters: [any PostgresEncodable], span: DaySpan, csv: Bool, fileName: String
    ) async throws -> Response {
        let ordered = "\(rows) ORDER BY \(order)"
        let all: [any PostgresEncodable] = [span.fromText, span.toText] + parameters
        if csv {
            let result = try await store.pool.query(ordered, all)
            return try CSVTable.response(result, fileName: "\(fileName)-\(span.fromText)-\(span.toText).csv")
        }
        let result = try await store.pool.query(
            "SELECT coalesce(json_agg(row_to_json(r) ORDER BY \(order)), '[]')::text FROM (\(ordered)) r", all)
        return JSONResponse.text(
            #"{"from":"\#(span.fromText)","to":"\#(span.toText)","items":\#(try result.decode(0, 0, as: String.self))}"#,
            headers: Self.negotiated)
    }

    /// Each repository's sessions per day from `from` to `to` (`reporting.repository_daily_statistics`),
    /// by day then repository name; `repository` (its name) keeps one repository's.
    @Sendable func repositories(_ request: Request, context: APIContext) async throws -> Response {
        _ = try context.require(.readSessions)
        let span = try DaySpan(request)
        let csv = try CSVTable.wanted(request)
        let name = try APIRequest.query(request, "repository")
        var repositoryID: String? = nil
        if let name {
            let state = try await catalog.load()
            guard let id = state.id(of: RepositoryDefinition.self, named: name) else {
                throw APIProblem.notFound(
                    UnknownName.message(
                        "repository", name, known: state.repositories.values.map(\.definition.name), listCommand: "GET /api/v1/repositories"
                    ))
            }
            repositoryID = id
        }
        let part = name.map { "-" + Self.fileSafe($0) } ?? ""
        return try await spanRows(
            "SELECT * FROM reporting.repository_daily_statistics r WHERE r.day BETWEEN $1::date AND $2::date AND ($3::text IS NULL OR r.repository_id = $3::text)",
            order: "r.day, r.repository_name, r.repository_id", parameters: [repositoryID], span: span, csv: csv,
            fileName: "tidemark-repositories\(part)")
    }

    /// Each job's sessions summed up: a page by name as JSON; every job as CSV.
    @Sendable func jobs(_ request: Request, context: APIContext) async throws -> Response {
        _ = try context.require(.readSessions)
        if try CSVTable.wanted(request) {
            let result = try await store.pool.query("SELECT * FROM reporting.job_statistics ORDER BY job_name")
            return try CSVTable.response(result, fileName: "tidemark-jobs.csv")
        }
        var response = try await CatalogRoutes.page(
            request, store: store, path: "statistics/jobs", view: "reporting.job_statistics", key: "job_name")
        response.headers[.vary] = "Accept"
        return response
    }

    /// The sessions started in the span, oldest first, with their statistics; `job` (its
    /// current or a former name) keeps one job's.
    @Sendable func sessions(_ request: Request, context: APIContext) async throws -> Response {
        _ = try context.require(.readSessions)
        let span = try DaySpan(request)
        let csv = try CSVTable.wanted(request)
        let job = try APIRequest.query(request, "job")
        var jobID: String? = nil
        if let job { jobID = try APIRequest.jobID(job, in: try await catalog.load()) }
        // From `from`'s midnight UTC to the midnight after `to`.
        let rows = """
            SELECT s.session_id, s.job_name, s.trigger, s.started_at, s.finished_at, s.state, s.result, s.duration_seconds,
                   s.vm_count, s.processed_bytes, s.read_bytes, s.transferred_bytes, s.dedupe_ratio, s.compression_ratio,
                   s.rate_bytes_per_second, s.bottleneck, s.busy_source_percent, s.busy_proxy_percent,
                   s.busy_network_percent, s.busy_target_percent
              FROM reporting.sessions s
             WHERE coalesce(s.started_at, '-infinity'::timestamptz) >= ($1::date)::timestamp AT TIME ZONE 'UTC'
               AND coalesce(s.started_at, '-infinity'::timestamptz) < ($2::date + 1)::timestamp AT TIME ZONE 'UTC'
               AND ($3::text IS NULL OR s.job_id = $3::text)
             ORDER BY coalesce(s.started_at, '-infinity'::timestamptz), s.session_id
             LIMIT \(Self.maximumSessionRows + 1)
            """
        let parameters: [any PostgresEncodable] = [span.fromText, span.toText, jobID]
        if csv {
            let result = try await store.pool.query(rows, parameters)
            try Self.refuseTooMany(result.rowCount)
            let name = job.map { "-" + Self.fileSafe($0) } ?? ""
            return try CSVTable.response(result, fileName: "tidemark-sessions\(name)-\(span.fromText)-\(span.toText).csv")
        }
        let result = try await store.pool.query(
            """
            SELECT coalesce(json_agg(row_to_json(r) ORDER BY coalesce(r.started_at, '-infinity'::timestamptz), r.session_id), '[]')::text,
                   count(*)
              FROM (\(rows)) r
            """, parameters)
        try Self.refuseTooMany(Int(try result.decode(0, 1, as: Int64.self)))
        return JSONResponse.text(
            #"{"from":"\#(span.fromText)","to":"\#(span.toText)","items":\#(try result.decode(0, 0, as: String.self))}"#,
            headers: Self.negotiated)
    }

    /// The same URL answers JSON or CSV by `Accept`: caches must keep them apart.
    static let negotiated: HTTPFields = [.vary: "Accept"]

    static func refuseTooMany(_ rows: Int) throws {
        guard rows <= maximumSessionRows else {
            throw APIProblem.badRequest(
                "more than \(maximumSessionRows) sessions started in this span: ask for fewer days (from, to) or one job (job=NAME)")
        }
    }

    /// A name as part of a download's file name: letters, digits, `-`, `_` and `.` only.
    static func fileSafe(_ name: String) -> String {
        let kept = name.unicodeScalars.prefix(80).map { scalar -> Character in
            let plain = scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "-_.".unicodeScalars.contains(scalar))
            return plain ? Character(scalar) : "_"
        }
        return String(kept)
    }
}

extension Calendar {
    static var utc: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }
}

/// `from` and `to` as dates (`YYYY-MM-DD`, UTC), both included: the last 30 days unless
/// given, at most 366 days.
struct DaySpan {
    let fromText: String
    let toText: String

    init(_ request: Request) throws {
        let query = request.uri.queryParameters
        let to = try query.get("to").map { try Self.day(String($0), "to") } ?? Calendar.utc.startOfDay(for: Date())
        let from = try query.get("from").map { try Self.day(String($0), "from") } ?? to.addingTimeInterval(-29 * 86_400)
        let days = Int(to.timeIntervalSince(from) / 86_400) + 1
        guard days >= 1 else { throw APIProblem.badRequest("from must be on or before to") }
        guard days <= 366 else { throw APIProblem.badRequest("from and to span \(days) days; ask for at most 366 at a time") }
        let formatter = Self.formatter()
        fromText = formatter.string(from: from)
        toText = formatter.string(from: to)
    }

    static func day(_ text: String, _ name: String) throws -> Date {
        guard text.utf8.count == 10, let date = formatter().date(from: text) else {
            throw APIProblem.badRequest("\(name) is a date such as 2026-12-01, not '\(text)'")
        }
        return date
    }

    static func formatter() -> DateFormatter {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        formatter.isLenient = false
        return formatter
    }
}
