import Catalog
import CommandLineSupport
import Foundation
import Postgres

/// `session list --json` and `session show --json`, and the one message for an id that names
/// no session. The JSON is the `reporting` views' rows as PostgreSQL writes them (`row_to_json`):
/// their column names are already a promise to SQL tools, so scripts get the same keys.
extension SessionCommand {
    /// The sessions `session list` shows, newest first, as a JSON array.
    static func listJSON(job: String?, limit: Int, pool: PostgresPool) async throws -> String {
        let result = try await pool.query(
            """
            SELECT coalesce(json_agg(row_to_json(s) ORDER BY s.started_at DESC NULLS LAST), '[]')::text
              FROM (SELECT * FROM reporting.sessions WHERE ($1::text IS NULL OR lower(job_name) = lower($1))
                     ORDER BY started_at DESC NULLS LAST LIMIT $2) s
            """, [job, limit])
        return try result.decode(0, 0)
    }

    /// One session and its tasks: `{"session": {...}, "tasks": [...]}`.
    static func showJSON(session id: String, pool: PostgresPool) async throws -> String {
        let result = try await pool.query(
            """
            SELECT json_build_object(
                     'session', (SELECT row_to_json(s) FROM reporting.sessions s WHERE s.session_id = $1),
                     'tasks', (SELECT coalesce(json_agg(row_to_json(t) ORDER BY t.task_id), '[]') FROM reporting.tasks t WHERE t.session_id = $1)
                   )::text
            """, [id])
        return try result.decode(0, 0)
    }

    /// The session whose id starts with `prefix`, or the error that says there is none (with
    /// the latest ids) or several.
    static func resolve(_ prefix: String, pool: PostgresPool) async throws -> String {
        let matches = try await pool.query(
            "SELECT session_id FROM reporting.sessions WHERE session_id LIKE $1 || '%' ORDER BY started_at DESC LIMIT 2",
            [prefix.lowercased()])
        if matches.rowCount == 1 { return try matches.decode(0, 0) }
        throw try await noSingleSession(prefix, matches: matches.rowCount, pool: pool)
    }

    /// `no session has an id starting with 'zzzz' (latest: ...)`, or that a prefix is ambiguous.
    static func noSingleSession(_ prefix: String, matches: Int, pool: PostgresPool) async throws -> CommandFailure {
        guard matches == 0 else { return CommandFailure("'\(prefix)' starts the ids of several sessions: give more of the id") }
        let latest = try await pool.query("SELECT left(session_id, 8) FROM reporting.sessions ORDER BY started_at DESC NULLS LAST LIMIT 5")
        let ids = try (0..<latest.rowCount).map { try latest.decode($0, 0, as: String.self) }
        return CommandFailure(
            UnknownName.message(
                "session", prefix, relation: "has an id starting with", known: ids, label: "latest", listCommand: "tidemark session list"))
    }

    /// The error for `--job NAME` when no job has or had that name and no session carries it.
    static func unknownJob(_ name: String, pool: PostgresPool) async throws -> CommandFailure {
        let jobs = try await pool.query("SELECT name FROM projection.jobs")
        let names = try (0..<jobs.rowCount).map { try jobs.decode($0, 0, as: String.self) }
        return CommandFailure(UnknownName.message("job", name, known: names, listCommand: "tidemark job list"))
    }
}
