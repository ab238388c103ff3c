import CommandLineSupport
import Foundation
import Postgres

/// Publishes beside backups and restores in `session list` and `session show`: their rows of
/// `reporting.publishes` (the JSON of `session list --json` stays `reporting.sessions`' rows).
extension SessionCommand {
    /// The latest publishes as `session list` rows: id, "publish: VM point → address", state,
    /// started, duration, bytes read through it, bytes written into its overlay, "-".
    static func publishRows(limit: Int, pool: PostgresPool) async throws -> [(Date?, [String])] {
        let rows = try await pool.query(
            """
            SELECT publish_id, vm_name, restore_point_id, coalesce(address, '-'), state, requested_at,
                   extract(epoch FROM coalesce(stopped_at, now()) - requested_at)::double precision, bytes_read, bytes_written
              FROM reporting.publishes ORDER BY requested_at DESC NULLS LAST LIMIT $1
            """, [limit])
        let formatter = ISO8601DateFormatter()
        return try (0..<rows.rowCount).map { row in
            let started: Date? = try rows.decodeIfPresent(row, 5)
            let duration: Double? = try rows.decodeIfPresent(row, 6)
            return (
                started,
                [
                    try rows.decode(row, 0),
                    "publish: \(try rows.decodeIfPresent(row, 1, as: String.self) ?? "-") \(try rows.decodeIfPresent(row, 2, as: String.self) ?? "-") → \(try rows.decode(row, 3, as: String.self))",
                    try rows.decodeIfPresent(row, 4) ?? "-", started.map(formatter.string(from:)) ?? "-",
                    duration.map { String(format: "%.1f s", $0) } ?? "-", megabytes(try rows.decodeIfPresent(row, 7)),
                    megabytes(try rows.decodeIfPresent(row, 8)), "-", "-",
                ]
            )
        }
    }

    /// A publish whose id starts with `prefix`, as `session show` prints it; nil when none does.
    static func showPublish(_ prefix: String, pool: PostgresPool) async throws -> String? {
        let rows = try await pool.query(
            """
            SELECT publish_id, vm_name, restore_point_id, repository_name, array_to_string(disks, ', '), requested_by,
                   coalesce(reason_given, '-'), writable, address, host, requested_at, stopped_at, state, clients, reads, bytes_read,
                   writes, bytes_written, errors, stop_reason, stopped_by, overlay_kept
              FROM reporting.publishes WHERE publish_id LIKE $1 || '%' ORDER BY requested_at DESC LIMIT 2
            """, [prefix])
        guard rows.rowCount == 1 else { return nil }
        let formatter = ISO8601DateFormatter()
        func text(_ column: Int) throws -> String { try rows.decodeIfPresent(0, column, as: String.self) ?? "-" }
        func count(_ column: Int) throws -> String { try rows.decodeIfPresent(0, column, as: Int64.self).map(String.init) ?? "-" }
        let requested: Date? = try rows.decodeIfPresent(0, 10), stopped: Date? = try rows.decodeIfPresent(0, 11)
        let writable: Bool = try rows.decodeIfPresent(0, 7) ?? false
        var lines = [
            "publish \(try text(0)) (\(writable ? "writable" : "read-only"))",
            "  requested:   by \(try text(5)) at \(requested.map(formatter.string(from:)) ?? "-"), reason: \(try text(6))",
            "  what:        \(try text(1)) restore point \(try text(2)) (repository \(try text(3))): \(try text(4))",
            "  served:      on \(try text(8)) by \(try text(9)); \(try text(12))",
            "  traffic:     \(try count(13)) client(s), \(try count(14)) reads (\(megabytes(try rows.decodeIfPresent(0, 15)))), \(try count(16)) writes (\(megabytes(try rows.decodeIfPresent(0, 17)))), \(try count(18)) errors",
        ]
        if let stopped {
            lines.append("  stopped:     at \(formatter.string(from: stopped)) by \(try text(20)): \(try text(19))")
        }
        if let kept = try rows.decodeIfPresent(0, 21, as: String.self) { lines.append("  overlay:     kept in \(kept)") }
        return lines.joined(separator: "\n")
    }
}
