import EventStore
import Foundation
import Postgres

/// What a daily summary says: the sessions and restores that ended since the previous one (of the
/// channel's jobs, when it names some), by result, and each failed or warning session with its
/// reason, read from the `reporting` views, as `tidemark session list` would show them.
struct DailySummary: Sendable {
    struct Problem: Sendable {
        let job: String
        let session: String
        let result: String
        let reason: String?
    }

    let from: Date
    let to: Date
    let timeZone: TimeZone
    /// Result → count.
    let sessions: [String: Int]
    let restores: [String: Int]
    let problems: [Problem]

    /// At most this many problems are listed; the count says how many there were.
    static let problemsListed = 50

    static func read(from: Date, to: Date, jobs: [String], timeZone: TimeZone, store: EventStore) async throws -> DailySummary {
        let names = jobs.map { $0.lowercased() }
        let sessions = try await store.pool.query(
            """
            SELECT coalesce(result, 'unknown'), count(*)::bigint FROM reporting.sessions
             WHERE finished_at > $1 AND finished_at <= $2 AND (cardinality($3::text[]) = 0 OR lower(job_name) = ANY($3::text[]))
             GROUP BY 1
            """, [from, to, names])
        let restores = try await store.pool.query(
            """
            SELECT coalesce(result, 'unknown'), count(*)::bigint FROM reporting.restores
             WHERE finished_at > $1 AND finished_at <= $2 GROUP BY 1
            """, [from, to])
        let problems = try await store.pool.query(
            """
            SELECT coalesce(job_name, '?'), session_id, result, reason FROM reporting.sessions
             WHERE finished_at > $1 AND finished_at <= $2 AND result IN ('failed', 'warning')
               AND (cardinality($3::text[]) = 0 OR lower(job_name) = ANY($3::text[]))
             ORDER BY finished_at LIMIT \(problemsListed)
            """, [from, to, names])
        func counts(_ result: PostgresResult) throws -> [String: Int] {
            var counts: [String: Int] = [:]
            for row in 0..<result.rowCount { counts[try result.decode(row, 0)] = Int(try result.decode(row, 1, as: Int64.self)) }
            return counts
        }
        return DailySummary(
            from: from, to: to, timeZone: timeZone, sessions: try counts(sessions), restores: try counts(restores),
            problems: try (0..<problems.rowCount).map { row in
                Problem(
                    job: try problems.decode(row, 0), session: try problems.decode(row, 1), result: try problems.decode(row, 2),
                    reason: try problems.decodeIfPresent(row, 3, as: String.self))
            })
    }

    static func describe(_ counts: [String: Int]) -> String {
        let total = counts.values.reduce(0, +)
        guard total > 0 else { return "none" }
        let order = ["success", "warning", "failed", "stopped", "unknown"]
        let parts = counts.sorted { (order.firstIndex(of: $0.key) ?? 9, $0.key) < (order.firstIndex(of: $1.key) ?? 9, $1.key) }
            .map { "\($0.value) \($0.key)" }
        return "\(total) (\(parts.joined(separator: ", ")))"
    }

    func message(id: String) -> NotificationService.Message {
        let formatter = DateFormatter()
        formatter.timeZone = timeZone
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        let failed = sessions["failed", default: 0]
        let warnings = sessions["warning", default: 0]
        let total = sessions.values.reduce(0, +)
        let subject =
            "[Tidemark] daily summary: \(total) session\(total == 1 ? "" : "s"), \(failed) failed, \(warnings) warning\(warnings == 1 ? "" : "s")"
        var lines = [
            "From \(formatter.string(from: from)) to \(formatter.string(from: to)) (\(timeZone.identifier)):", "",
            "Sessions: \(Self.describe(sessions))", "Restores: \(Self.describe(restores))",
        ]
        if !problems.isEmpty {
            lines += ["", "Failed and with warnings:"]
            for problem in problems {
                lines.append("  \(problem.result)  job \(problem.job)  session \(problem.session)\(problem.reason.map { ": \($0)" } ?? "")")
            }
            if failed + warnings > problems.count { lines.append("  ... and \(failed + warnings - problems.count) more") }
        }
        lines += ["", "Details: tidemark session list; tidemark session show SESSION"]
        let iso = ISO8601DateFormatter()
        let object: [String: Any] = [
            "event": "summary.daily", "from": iso.string(from: from), "to": iso.string(from: to), "sessions": sessions,
            "restores": restores,
            "problems": problems.map { problem -> [String: Any] in
                ["job_name": problem.job, "session_id": problem.session, "result": problem.result, "reason": problem.reason ?? NSNull()]
            },
        ]
        let json = Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8))
        return NotificationService.Message(id: id, subject: subject, text: lines.joined(separator: "\n"), json: json)
    }
}
