import CommandLineSupport
import Foundation
import Postgres

/// Restores beside backups in `session list` and `session show`: their rows of
/// `reporting.restores` (the JSON of `session list --json` stays `reporting.sessions`' rows, a
/// promise to scripts; restores have their view).
extension SessionCommand {
    /// The latest restores as `session list` rows: id, "restore: VMs → target", result,
    /// started, duration, restored bytes, written bytes, bottleneck.
    static func restoreRows(limit: Int, pool: PostgresPool) async throws -> [(Date?, [String])] {
        let rows = try await pool.query(
            """
            SELECT restore_id, what, array_to_string(vm_names, ', '), coalesce(target_server, array_to_string(files, ', ')),
                   coalesce(result, state, '-'), requested_at, duration_seconds, written_bytes + skipped_bytes, written_bytes,
                   coalesce(bottleneck, '-'), reason
              FROM reporting.restores ORDER BY requested_at DESC NULLS LAST LIMIT $1
            """, [limit])
        let formatter = ISO8601DateFormatter()
        return try (0..<rows.rowCount).map { row in
            let started: Date? = try rows.decodeIfPresent(row, 5)
            let duration: Double? = try rows.decodeIfPresent(row, 6)
            let what: String = try rows.decode(row, 1)
            let to: String = try rows.decodeIfPresent(row, 3) ?? "-"
            return (
                started,
                [
                    try rows.decode(row, 0), "restore \(what): \(try rows.decode(row, 2, as: String.self)) → \(to)",
                    try rows.decode(row, 4),
                    started.map(formatter.string(from:)) ?? "-", duration.map { String(format: "%.1f s", $0) } ?? "-",
                    megabytes(try rows.decodeIfPresent(row, 7)), megabytes(try rows.decodeIfPresent(row, 8)), try rows.decode(row, 9),
                    SessionCommand.shortReason(try rows.decodeIfPresent(row, 10)),
                ]
            )
        }
    }

    /// A restore whose id starts with `prefix`, as `session show` prints it; nil when none does.
    static func showRestore(_ prefix: String, pool: PostgresPool) async throws -> String? {
        let rows = try await pool.query(
            """
            SELECT restore_id, what, requested_by, coalesce(reason_given, '-'), coalesce(result, state), coalesce(reason, ''),
                   requested_at, finished_at, repository_name, coalesce(target_server, '-'), coalesce(target_folder, '-'),
                   coalesce(target_datastore, '-'), read_bytes, written_bytes, skipped_bytes, bytes_per_second, coalesce(bottleneck, '-')
              FROM reporting.restores WHERE restore_id LIKE $1 || '%' ORDER BY requested_at DESC LIMIT 2
            """, [prefix])
        guard rows.rowCount == 1 else { return nil }
        let id: String = try rows.decode(0, 0)
        let formatter = ISO8601DateFormatter()
        let requested: Date? = try rows.decodeIfPresent(0, 6), finished: Date? = try rows.decodeIfPresent(0, 7)
        func text(_ column: Int) throws -> String { try rows.decodeIfPresent(0, column, as: String.self) ?? "-" }
        let reason = try text(5)
        var lines = [
            "restore \(id) (\(try text(1)))",
            "  requested:   by \(try text(2)) at \(requested.map(formatter.string(from:)) ?? "-"), reason: \(try text(3))",
            "  result:      \(try text(4))" + (reason.isEmpty || reason == "-" ? "" : ": \(reason)"),
            "  finished:    \(finished.map(formatter.string(from:)) ?? "-")",
            "  from:        repository \(try text(8))",
            "  to:          \(try text(9)), folder \(try text(10)), datastore \(try text(11))",
            "  bytes:       read \(megabytes(try rows.decodeIfPresent(0, 12))), written \(megabytes(try rows.decodeIfPresent(0, 13))), skipped \(megabytes(try rows.decodeIfPresent(0, 14))) (zeros or identical), \(megabytes(try rows.decodeIfPresent(0, 15)))/s, bottleneck \(try text(16))",
        ]
        let machines = try await pool.query(
            """
            SELECT vm_name, restore_point_id, coalesce(target_vm_name || ' (' || target_vm_id || ')', '-'),
                   coalesce(array_to_string(files, ', '), ''), coalesce(powered_on, false), disks
              FROM projection.restore_vms WHERE restore_id = $1 ORDER BY vm_name
            """, [id])
        var table = [["VM", "RESTORE POINT", "RESTORED AS", "FILES", "POWERED ON", "DISKS"]]
        for row in 0..<machines.rowCount {
            let disks: Int64? = try machines.decodeIfPresent(row, 5)
            table.append([
                try machines.decode(row, 0), try machines.decode(row, 1), try machines.decode(row, 2), try machines.decode(row, 3),
                try machines.decode(row, 4, as: Bool.self) ? "yes" : "no", disks.map(String.init) ?? "-",
            ])
        }
        lines.append(TextTable.render(table).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        return lines.joined(separator: "\n")
    }
}
