import CommandLineSupport
import EventStore
import Foundation
import Logging
import Postgres
import PrivateCluster

/// The scratch database a bench works in, dropped and created again on each run so that
/// figures never depend on what an earlier run left, and the real catalog is never touched.
struct BenchDatabase {
    static let name = "tidemark_bench"

    /// The role that owns the scratch database; the bare reference runs as it.
    let administrator: PostgresConnectionSettings
    /// The role the event store runs as (tidemark_app on the private cluster).
    let service: PostgresConnectionSettings
    /// The login proxy processes connect as (tidemark_proxy on the private cluster).
    let proxyLogin: PostgresConnectionSettings

    static func create(catalog: CatalogDatabase, logger: Logger) async throws -> BenchDatabase {
        let serverAdministrator = try await catalog.administratorSettings()
        let maintenance = try await PostgresConnection.connect(serverAdministrator.with("dbname", "postgres"), logger: logger)
        do {
            try await maintenance.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
            try await maintenance.execute("CREATE DATABASE \(name)")
            await maintenance.close()
        } catch {
            await maintenance.close()
            throw error
        }
        let administrator = serverAdministrator.with("dbname", name)
        try await Migrator.bundled(logger: logger).migrate(administrator)
        let service: PostgresConnectionSettings, proxyLogin: PostgresConnectionSettings
        if let cluster = catalog.privateCluster {
            service = cluster.settings(database: name)
            proxyLogin = cluster.settings(database: name, user: "tidemark_proxy")
        } else {
            service = administrator
            proxyLogin = administrator
        }
        let bench = BenchDatabase(administrator: administrator, service: service, proxyLogin: proxyLogin)
        try await bench.createBareTable(logger: logger)
        return bench
    }

    /// The bare reference's table: the event table's columns, constraints and indexes,
    /// with an identity column handing out positions instead of the append function.
    private func createBareTable(logger: Logger) async throws {
        let connection = try await PostgresConnection.connect(administrator, logger: logger)
        try await connection.execute(
            """
            CREATE SCHEMA bench_bare;
            CREATE TABLE bench_bare.events (LIKE tidemark.events INCLUDING DEFAULTS INCLUDING CONSTRAINTS
                INCLUDING INDEXES INCLUDING GENERATED);
            ALTER TABLE bench_bare.events ALTER COLUMN position ADD GENERATED ALWAYS AS IDENTITY;
            ALTER TABLE bench_bare.events DROP COLUMN digest, DROP COLUMN chain_hash;
            """)
        await connection.close()
    }

    /// Runs `body` with this database's append functions swapped for copies without the hash
    /// chain (each `-- chained {` ... `-- } unchained: LINE` block of migration 0007 replaced
    /// by LINE), then puts the real ones back: the reference for what the chain costs.
    func withoutHashChain<T>(logger: Logger, _ body: () async throws -> T) async throws -> T {
        let connection = try await PostgresConnection.connect(administrator, logger: logger)
        return try await withClosing(connection) { connection in
            let definitions = try await connection.query(
                "SELECT pg_get_functiondef(p.oid) FROM pg_proc AS p WHERE p.pronamespace = 'tidemark'::regnamespace AND p.proname IN ('append_event', 'append_events')"
            )
            let chained = try (0..<definitions.rowCount).map { try definitions.decode($0, 0, as: String.self) }
            guard chained.count == 2 else { throw BenchSetupError("the bench database has \(chained.count) append functions, not 2") }
            for definition in chained { try await connection.execute(try Self.unchained(definition)) }
            let result: T
            do {
                result = try await body()
            } catch {
                for definition in chained { try await connection.execute(definition) }
                throw error
            }
            for definition in chained { try await connection.execute(definition) }
            return result
        }
    }

    /// A function definition with its chain blocks replaced by their unchained lines.
    static func unchained(_ definition: String) throws -> String {
        var lines: [Substring] = []
        var inBlock = false
        var blocks = 0
        for line in definition.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.drop { $0 == " " }
            if trimmed.hasPrefix("-- chained {") {
                guard !inBlock else { throw BenchSetupError("a '-- chained {' block opens inside another") }
                inBlock = true
            } else if trimmed.hasPrefix("-- } unchained:") {
                guard inBlock else { throw BenchSetupError("a '-- } unchained:' line closes no block") }
                inBlock = false
                blocks += 1
                lines.append(trimmed.dropFirst("-- } unchained:".count))
            } else if !inBlock {
                lines.append(line)
            }
        }
        guard !inBlock, blocks > 0 else {
            throw BenchSetupError("the append function has no complete '-- chained { ... -- } unchained:' block to take out")
        }
        return lines.joined(separator: "\n")
    }

    static let bareInsert = PostgresStatement(
        name: "bench_bare_insert",
        sql: """
            INSERT INTO bench_bare.events (stream_id, stream_version, event_id, event_type, schema_version, data, metadata)
            VALUES ($1, $2, $3, $4, 1, $5, $6)
            """)

    static let bareCopy =
        "COPY bench_bare.events (stream_id, stream_version, event_id, event_type, schema_version, data, metadata) FROM STDIN"

    /// A typical Job Manager event: about 250 bytes of data.
    static func sampleData(_ number: Int) -> String {
        #"{"session":"5b8f0c2e-6a1d-4f3e-9c7b-2d4e6f8a0b1c","task":"vm-\#(number % 50)","disk":"scsi0:\#(number % 4)","offset":\#(number * 1_048_576),"bytes_read":1048576,"bytes_transferred":\#(number % 7 * 131_072),"new_chunks":\#(number % 3),"duration_ms":\#(number % 97)}"#
    }

    static let sampleMetadata = EventMetadata(
        correlationID: UUID(), causationID: UUID(), actor: "job-manager", host: "bench")
}

/// The bench database is not what the bench expects (a migration changed what it measures).
struct BenchSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = "bench: \(description)" }
}
