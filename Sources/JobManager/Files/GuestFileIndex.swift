import Foundation
import Postgres

/// The guest file index in PostgreSQL (`guest_index`, migration 0018): one row per version
/// of a file, numbered by the file system's indexed points. Storing a point writes only what
/// changed against the file system's previous indexed point, in one transaction with the
/// point's row, so a point is indexed whole or not at all, and once.
struct GuestFileIndex: Sendable {
    let pool: PostgresPool

    /// What storing one file system's index found.
    struct Counts: Sendable, Equatable {
        var files: Int64 = 0
        var added: Int64 = 0
        var changed: Int64 = 0
        var removed: Int64 = 0
    }

    /// Which file system of which point.
    struct Volume: Sendable {
        let restorePoint: String
        let vm: String
        let disk: String
        /// 0: the whole disk.
        let partition: Int
        let session: String
        let fileSystem: String
    }

    /// Stores `entries` as the volume's index, against its previous indexed point; a volume
    /// indexed before (a resumed session) is left as it is and its counts returned.
    func store(_ given: [GuestFileEntry], for volume: Volume, seconds: Double) async throws -> Counts {
        // A path met twice (names that differ only in bytes that are not UTF-8) is stored once.
        var unique = Set<String>()
        let entries = given.filter { unique.insert($0.path).inserted }
        return try await pool.withTransaction { connection throws -> Counts in
            let key: [any PostgresEncodable] = [volume.vm, volume.disk, Int64(volume.partition)]
            // One indexer per file system at a time: the lock ends with the transaction.
            try connection.query(
                "SELECT pg_advisory_xact_lock(hashtext('tidemark.guest_index'), hashtext($1 || '/' || $2 || '/' || $3::text))", key)
            let done = try connection.query(
                "SELECT files, added, changed, removed FROM guest_index.volumes WHERE restore_point_id = $1 AND disk = $2 AND partition = $3",
                [volume.restorePoint, volume.disk, Int64(volume.partition)])
            if done.rowCount == 1 {
                return Counts(
                    files: try done.decode(0, 0), added: try done.decode(0, 1), changed: try done.decode(0, 2),
                    removed: try done.decode(0, 3))
            }
            let seq: Int64 = try connection.query(
                "SELECT coalesce(max(seq), 0) + 1 FROM guest_index.volumes WHERE vm_id = $1 AND disk = $2 AND partition = $3", key
            ).decode(0, 0)
            let open = try connection.query(
                """
                SELECT path, kind, size_bytes, mode, uid, gid, (extract(epoch FROM modified_at) * 1000000)::bigint, link_target
                  FROM guest_index.files WHERE vm_id = $1 AND disk = $2 AND partition = $3 AND last_seq IS NULL
                """, key)
            var previous: [String: String] = [:]
            previous.reserveCapacity(open.rowCount)
            for row in 0..<open.rowCount {
                let path: String = try open.decode(row, 0)
                let signature = [
                    try open.decode(row, 1) as String, String(try open.decode(row, 2) as Int64), try open.decode(row, 3) as String,
                    String(try open.decode(row, 4) as Int64), String(try open.decode(row, 5) as Int64),
                    String(try open.decode(row, 6) as Int64),
                    (try open.decodeIfPresent(row, 7) as String?) ?? "",
                ].joined(separator: "\u{1}")
                previous[path] = signature
            }
            var counts = Counts(files: Int64(entries.count))
            var written: [[String?]] = []
            var closing: [[String?]] = []
            var seen = Set<String>()
            seen.reserveCapacity(entries.count)
            for entry in entries {
                seen.insert(entry.path)
                let signature = Self.signature(entry)
                if let old = previous[entry.path] {
                    if old == signature { continue }
                    counts.changed += 1
                    closing.append([entry.path])
                } else {
                    counts.added += 1
                }
                written.append(Self.row(entry, volume: volume, seq: seq))
            }
            for path in previous.keys where !seen.contains(path) {
                counts.removed += 1
                closing.append([path])
            }
            if !closing.isEmpty {
                try connection.execute("CREATE TEMPORARY TABLE closing_paths (path text) ON COMMIT DROP")
                try connection.copyFromStdin("COPY closing_paths (path) FROM STDIN", rows: closing)
                try connection.query(
                    """
                    UPDATE guest_index.files f SET last_seq = $4 FROM closing_paths c
                     WHERE f.vm_id = $1 AND f.disk = $2 AND f.partition = $3 AND f.last_seq IS NULL AND f.path = c.path
                    """, key + [seq - 1])
            }
            if !written.isEmpty {
                try connection.copyFromStdin(
                    """
                    COPY guest_index.files (vm_id, disk, partition, path, name, kind, size_bytes, mode, uid, gid, modified_at, link_target,
                                            first_seq) FROM STDIN
                    """, rows: written)
            }
            try connection.query(
                """
                INSERT INTO guest_index.volumes (restore_point_id, vm_id, disk, partition, seq, session_id, file_system, files, added,
                                                 changed, removed, seconds)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                """,
                [
                    volume.restorePoint, volume.vm, volume.disk, Int64(volume.partition), seq, volume.session, volume.fileSystem,
                    counts.files,
                    counts.added, counts.changed, counts.removed, seconds,
                ])
            return counts
        }
    }

    /// What tells one version of a file from another, as the stored row gives it back.
    static func signature(_ entry: GuestFileEntry) -> String {
        [
            entry.kind.rawValue, String(min(entry.size, UInt64(Int64.max))), String(entry.permissions, radix: 8), String(entry.uid),
            String(entry.gid), String(microseconds(entry)), entry.linkTarget?.replacingOccurrences(of: "\u{0}", with: "") ?? "",
        ].joined(separator: "\u{1}")
    }

    /// The modification time in microseconds, within the years PostgreSQL takes (1 to 9999),
    /// so the stored row and the walk agree on it.
    static func microseconds(_ entry: GuestFileEntry) -> Int64 {
        let seconds = min(max(entry.modifiedSeconds, -62_135_596_800), 253_402_300_799)
        return seconds * 1_000_000 + Int64(entry.modifiedNanoseconds / 1_000)
    }

    static func row(_ entry: GuestFileEntry, volume: Volume, seq: Int64) -> [String?] {
        [
            volume.vm, volume.disk, String(volume.partition), entry.path, String(entry.path.split(separator: "/").last ?? ""),
            entry.kind.rawValue, String(min(entry.size, UInt64(Int64.max))), String(entry.permissions, radix: 8), String(entry.uid),
            String(entry.gid), timestamp(microseconds(entry)), entry.linkTarget.map { $0.replacingOccurrences(of: "\u{0}", with: "") },
            String(seq),
        ]
    }

    /// Microseconds since 1970 as PostgreSQL reads a timestamptz (`2026-12-01 10:00:00.123456+00`).
    static func timestamp(_ given: Int64) -> String {
        // A guest may write any time; PostgreSQL takes years 1 to 9999.
        let microseconds = min(max(given, -62_135_596_800_000_000), 253_402_300_799_000_000)
        var seconds = time_t(microseconds.floorDivided(by: 1_000_000))
        let fraction = microseconds - Int64(seconds) * 1_000_000
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02d %02d:%02d:%02d.%06d+00", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(fraction))
    }
}

extension Int64 {
    /// Division rounding toward minus infinity (times before 1970 stay in their second).
    func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}

/// One file found in the index: a version of it and the restore point that holds it.
public struct GuestFileMatch: Sendable {
    public let vmName: String
    public let restorePoint: String
    public let pointCreatedAt: Date
    public let path: String
    public let kind: String
    public let size: Int64
    public let modifiedAt: Date
}

extension GuestFileIndex {
    /// Files whose name matches the shell pattern `pattern` (`*` and `?`), in the available
    /// restore points (of one VM, by name or id; created since a time), by VM, path and point;
    /// at most `limit`.
    func find(pattern: String, vm: String?, since: Date?, limit: Int) async throws -> [GuestFileMatch] {
        var sql = """
            SELECT coalesce(vm_name, vm_id), restore_point_id, point_created_at, path, kind, size_bytes, modified_at
              FROM reporting.guest_files
             WHERE name LIKE $1 AND point_available
            """
        var parameters: [any PostgresEncodable] = [Self.like(pattern)]
        if let vm {
            parameters.append(vm)
            sql += " AND (vm_name = $\(parameters.count) OR vm_id = $\(parameters.count))"
        }
        if let since {
            parameters.append(since)
            sql += " AND point_created_at >= $\(parameters.count)"
        }
        parameters.append(Int64(limit))
        sql += " ORDER BY 1, path, point_created_at LIMIT $\(parameters.count)"
        let rows = try await pool.query(sql, parameters)
        return try (0..<rows.rowCount).map { row in
            GuestFileMatch(
                vmName: try rows.decode(row, 0), restorePoint: try rows.decode(row, 1), pointCreatedAt: try rows.decode(row, 2),
                path: try rows.decode(row, 3), kind: try rows.decode(row, 4), size: try rows.decode(row, 5),
                modifiedAt: try rows.decode(row, 6))
        }
    }

    /// A shell pattern as a LIKE pattern: `*` any run, `?` one character, the rest literal.
    static func like(_ pattern: String) -> String {
        var result = ""
        for character in pattern {
            switch character {
            case "*": result += "%"
            case "?": result += "_"
            case "%", "_", "\\": result += "\\" + String(character)
            default: result.append(character)
            }
        }
        return result
    }
}

/// `files find` for the command line: the index's matches.
public struct GuestFileSearch: Sendable {
    let index: GuestFileIndex

    public init(pool: PostgresPool) {
        index = GuestFileIndex(pool: pool)
    }

    public func find(pattern: String, vm: String?, since: Date?, limit: Int) async throws -> [GuestFileMatch] {
        try await index.find(pattern: pattern, vm: vm, since: since, limit: limit)
    }
}
