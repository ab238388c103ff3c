import Foundation
import Logging
import Postgres
import TidemarkMigrations

/// One numbered SQL file of `Migrations/`.
public struct MigrationFile: Sendable, Equatable {
    public let version: Int
    /// The file name, `0002_event_log.sql`.
    public let name: String
    public let sql: String

    /// Checks the name: four digits, an underscore, lowercase words, `.sql`.
    public init(name: String, sql: String) throws(MigrationError) {
        let parts = name.split(separator: "_", maxSplits: 1)
        guard name.hasSuffix(".sql"), parts.count == 2, parts[0].count == 4,
            let version = Int(parts[0]), version > 0,
            parts[1].dropLast(4).allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "_" }),
            parts[1].count > 4
        else {
            throw MigrationError(
                .invalidFileName, file: name,
                message: "the migration file name '\(name)' is not of the form NNNN_lowercase_words.sql (for example 0004_job_tables.sql)")
        }
        self.version = version
        self.name = name
        self.sql = sql
    }
}

/// Where one migration stands in a database.
public struct MigrationStatus: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case applied(at: Date)
        case pending
        /// Applied, but the file differs from what was applied.
        case changed(appliedAt: Date)
        /// Recorded in the database, but this build has no such file (a newer Tidemark migrated it).
        case unknownToThisBuild(appliedAt: Date)
    }

    public let version: Int
    public let name: String
    public let state: State
}

/// Applies the numbered SQL files, each once, in order, each in its own transaction.
///
/// Applied files are recorded in `tidemark.schema_migrations` with a SHA-256 checksum; a
/// file edited after it was applied stops the migration before anything runs. Two
/// processes that migrate at once queue on an advisory lock instead of colliding.
public struct Migrator: Sendable {
    public let files: [MigrationFile]
    let logger: Logger
    /// How long a migrator waits for another one before it gives up and says who holds it.
    public var lockPatience: Duration = .seconds(120)

    public init(files: [MigrationFile], logger: Logger = Logger(label: "tidemark.migrator")) throws(MigrationError) {
        let sorted = files.sorted { $0.version < $1.version }
        for (previous, next) in zip(sorted, sorted.dropFirst()) where previous.version == next.version {
            throw MigrationError(
                .duplicateNumber, file: next.name, message: "migrations \(previous.name) and \(next.name) share the number \(next.version)")
        }
        self.files = sorted
        self.logger = logger
    }

    /// The migrations that ship with this build.
    public static func bundled(logger: Logger = Logger(label: "tidemark.migrator")) throws -> Migrator {
        let files = try BundledMigrations.files().map { file throws(MigrationError) in
            try MigrationFile(name: file.name, sql: file.sql)
        }
        return try Migrator(files: files, logger: logger)
    }

    private static let bootstrap = """
        CREATE SCHEMA IF NOT EXISTS tidemark;
        CREATE TABLE IF NOT EXISTS tidemark.schema_migrations (
            version     integer     NOT NULL PRIMARY KEY,
            name        text        NOT NULL,
            checksum    text        NOT NULL,
            applied_at  timestamptz NOT NULL DEFAULT now(),
            applied_by  text        NOT NULL DEFAULT current_user
        );
        """

    /// Applies every pending file and returns their names. Run it as a role that may
    /// create roles and schemas (a superuser, or the database owner with CREATEROLE).
    @discardableResult
    public func migrate(_ settings: PostgresConnectionSettings) async throws -> [String] {
        let connection = try await PostgresConnection.connect(settings, logger: logger)
        return try await withClosing(connection) { _ in
            try await waitForMigrationLock(on: connection)
            do {
                let applied = try await apply(on: connection)
                try await connection.query("SELECT pg_advisory_unlock(hashtext('tidemark.migrations'))")
                return applied
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(hashtext('tidemark.migrations'))")
                throw error
            }
        }
    }

    /// Concurrent migrators queue on an advisory lock (the tables a table lock would need may
    /// not exist yet). Any login can take that key, so waiting is bounded: after
    /// `lockPatience` the error names the session in the way instead of hanging for ever.
    private func waitForMigrationLock(on connection: PostgresConnection) async throws {
        let started = ContinuousClock.now
        while true {
            let granted: Bool = try await connection.query("SELECT pg_try_advisory_lock(hashtext('tidemark.migrations'))").decode(0, 0)
            if granted { return }
            guard ContinuousClock.now - started < lockPatience else {
                let holder = try await connection.query(
                    """
                    SELECT l.pid, coalesce(a.usename::text, '?') FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
                     WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                       AND l.objid = (hashtext('tidemark.migrations')::bigint & 4294967295)::oid LIMIT 1
                    """)
                let who =
                    holder.rowCount == 1
                    ? "server process \(try holder.decode(0, 0, as: Int32.self)) (role \(try holder.decode(0, 1, as: String.self)))"
                    : "another session"
                throw MigrationError(
                    .lockHeld, file: nil,
                    message:
                        "\(who) has held the migration lock for \(lockPatience): another 'tidemark db migrate' is running, or that session holds the key; if it is neither, end it with SELECT pg_terminate_backend(PID) and migrate again"
                )
            }
            try await Task.sleep(for: .milliseconds(250))
        }
    }

    private func apply(on connection: PostgresConnection) async throws -> [String] {
        let checksums = try await self.checksums(on: connection)
        let recorded = try await connection.withTransaction { connection in
            try connection.execute(Self.bootstrap, label: "schema_migrations bootstrap")
            return try Self.recorded(on: connection)
        }
        let statuses = Self.statuses(files: files, checksums: checksums, recorded: recorded)
        if let changed = statuses.first(where: { if case .changed = $0.state { return true } else { return false } }),
            let record = recorded[changed.version], let file = files.first(where: { $0.version == changed.version })
        {
            throw MigrationError(
                .changedAfterApplied, file: file.name,
                message:
                    "migration \(file.name) was changed after it was applied on \(record.appliedAt) (checksum then \(record.checksum.prefix(12))…, now \(checksums[file.version]!.prefix(12))…): migrations are forward-only, so restore the file and put the change in a new numbered file"
            )
        }
        var applied: [String] = []
        for file in files where recorded[file.version] == nil {
            let checksum = checksums[file.version]!
            do {
                try await connection.withTransaction { connection in
                    try connection.execute(file.sql, label: file.name)
                    try connection.query(
                        "INSERT INTO tidemark.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                        [file.version, file.name, checksum])
                }
            } catch let error as PostgresError {
                throw MigrationError(
                    .failed, file: file.name,
                    message:
                        "migration \(file.name) failed and was rolled back: \(error.message)\(error.hint.map { " (hint: \($0))" } ?? "")")
            }
            logger.info("applied migration", metadata: ["migration.file": "\(file.name)"])
            applied.append(file.name)
        }
        return applied
    }

    /// Every file's state in the database, including recorded migrations this build lacks.
    public func status(_ settings: PostgresConnectionSettings) async throws -> [MigrationStatus] {
        let connection = try await PostgresConnection.connect(settings, logger: logger)
        return try await withClosing(connection) { _ in
            let checksums = try await self.checksums(on: connection)
            let exists = try await connection.query("SELECT to_regclass('tidemark.schema_migrations') IS NOT NULL")
            let recorded =
                try await exists.decode(0, 0, as: Bool.self)
                ? connection.withTransaction { try Self.recorded(on: $0) } : [:]
            return Self.statuses(files: files, checksums: checksums, recorded: recorded)
        }
    }

    struct Record: Sendable {
        let name: String
        let checksum: String
        let appliedAt: Date
    }

    private static func recorded(on connection: isolated PostgresConnection) throws -> [Int: Record] {
        let result = try connection.query(
            "SELECT version, name, checksum, applied_at FROM tidemark.schema_migrations ORDER BY version")
        var records: [Int: Record] = [:]
        for row in 0..<result.rowCount {
            records[try result.decode(row, 0)] = Record(
                name: try result.decode(row, 1), checksum: try result.decode(row, 2),
                appliedAt: try result.decode(row, 3))
        }
        return records
    }

    /// SHA-256 of each file, computed by the server so the client needs no crypto library.
    private func checksums(on connection: PostgresConnection) async throws -> [Int: String] {
        guard !files.isEmpty else { return [:] }
        let result = try await connection.query(
            "SELECT encode(sha256(convert_to(t, 'UTF8')), 'hex') FROM unnest($1::text[]) WITH ORDINALITY AS f(t, n) ORDER BY n",
            [files.map(\.sql)])
        var checksums: [Int: String] = [:]
        for (row, file) in files.enumerated() {
            checksums[file.version] = try result.decode(row, 0)
        }
        return checksums
    }

    private static func statuses(
        files: [MigrationFile], checksums: [Int: String], recorded: [Int: Record]
    )
        -> [MigrationStatus]
    {
        var statuses = files.map { file -> MigrationStatus in
            guard let record = recorded[file.version] else {
                return MigrationStatus(version: file.version, name: file.name, state: .pending)
            }
            let state: MigrationStatus.State =
                record.checksum == checksums[file.version]
                ? .applied(at: record.appliedAt) : .changed(appliedAt: record.appliedAt)
            return MigrationStatus(version: file.version, name: file.name, state: state)
        }
        let known = Set(files.map(\.version))
        for (version, record) in recorded where !known.contains(version) {
            statuses.append(
                MigrationStatus(version: version, name: record.name, state: .unknownToThisBuild(appliedAt: record.appliedAt)))
        }
        return statuses.sorted { $0.version < $1.version }
    }
}
