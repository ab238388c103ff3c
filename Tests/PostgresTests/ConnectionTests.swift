import Foundation
import Postgres
import TestSupport
import Testing

@Suite("Connections, transactions and errors")
struct ConnectionTests {
    @Test("a prepared statement is prepared once and reused")
    func preparedStatements() async throws {
        let database = try await TestDatabase.create(migrated: false)
        let connection = try await PostgresConnection.connect(database.administrator)
        let statement = PostgresStatement(name: "double_it", sql: "SELECT $1::int8 * 2")
        for value in Int64(1)...5 {
            #expect(try await connection.query(statement, [value]).decode(0, 0, as: Int64.self) == value * 2)
        }
        let prepared = try await connection.query(
            "SELECT count(*) FROM pg_prepared_statements WHERE name = 'double_it'")
        #expect(try prepared.decode(0, 0, as: Int.self) == 1)
        await connection.close()
    }

    @Test("a transaction whose body throws leaves nothing behind")
    func transactionRollsBack() async throws {
        struct Abort: Error {}
        let database = try await TestDatabase.create(migrated: false)
        let connection = try await PostgresConnection.connect(database.administrator)
        try await connection.execute("CREATE TABLE t (n int)")
        await #expect(throws: Abort.self) {
            try await connection.withTransaction { connection in
                try connection.query("INSERT INTO t VALUES (1)")
                throw Abort()
            }
        }
        #expect(try await connection.query("SELECT count(*) FROM t").decode(0, 0, as: Int.self) == 0)
        #expect(await connection.isInTransaction == false)
        try await connection.withTransaction { try $0.query("INSERT INTO t VALUES (2)") }
        #expect(try await connection.query("SELECT count(*) FROM t").decode(0, 0, as: Int.self) == 1)
        await connection.close()
    }

    @Test("a server error carries SQLSTATE, message, detail and statement; its description leaks no value")
    func errorsCarryContext() async throws {
        let database = try await TestDatabase.create(migrated: false)
        let connection = try await PostgresConnection.connect(database.administrator)
        try await connection.execute("CREATE TABLE secrets (token text PRIMARY KEY)")
        try await connection.query("INSERT INTO secrets VALUES ($1)", ["s3cr3t-token-value"])
        let error = await #expect(throws: PostgresError.self) {
            try await connection.query("INSERT INTO secrets VALUES ($1)", ["s3cr3t-token-value"])
        }
        #expect(error?.code == .uniqueViolation)
        #expect(error?.kind == .server)
        #expect(error?.statement == "INSERT INTO secrets VALUES ($1)")
        #expect(error?.detail?.contains("s3cr3t-token-value") == true)
        #expect(error?.description.contains("s3cr3t-token-value") == false)
        #expect(error?.description.contains("23505") == true)
        #expect(error?.debugDescription.contains("s3cr3t-token-value") == true)
        // The connection stays usable after a statement error.
        #expect(try await connection.query("SELECT 1").decode(0, 0, as: Int.self) == 1)
        await connection.close()
    }

    @Test("a refused value stays out of the error's description")
    func refusedValueNotInDescription() async throws {
        let database = try await TestDatabase.create(migrated: false)
        let connection = try await PostgresConnection.connect(database.administrator)
        let error = await #expect(throws: PostgresError.self) {
            try await connection.query("SELECT $1::uuid", ["not-a-uuid-token-8f3a"])
        }
        #expect(error?.code == .invalidTextRepresentation)
        #expect(error?.description.contains("not-a-uuid-token-8f3a") == false)
        #expect(error?.description.contains("invalid input syntax for type uuid") == true)
        #expect(error?.debugDescription.contains("not-a-uuid-token-8f3a") == true)
        await connection.close()
    }

    @Test("a closed connection answers every later call with an error instead of hanging")
    func callsAfterClose() async throws {
        let database = try await TestDatabase.create(migrated: false)
        let connection = try await PostgresConnection.connect(database.administrator)
        await connection.close()
        await connection.close()
        let error = await #expect(throws: PostgresError.self) { try await connection.query("SELECT 1") }
        #expect(error?.kind == .connectionLost)
        #expect(connection.isBroken)
    }

    @Test("a malformed connection string fails to connect with a clear error and no password in it")
    func malformedConnectionString() async throws {
        let error = await #expect(throws: PostgresError.self) {
            _ = try await PostgresConnection.connect("host=/nowhere password=hunter2-secret bogus_option=1")
        }
        #expect(error?.kind == .connectionFailed)
        #expect(error?.message.contains("bogus_option") == true)
        #expect(error?.description.contains("hunter2-secret") == false)
        let urlError = await #expect(throws: PostgresError.self) {
            _ = try await PostgresConnection.connect("postgresql://user:hunter2-secret@/db?nonsense=1")
        }
        #expect(urlError?.kind == .connectionFailed)
        #expect(urlError?.description.contains("hunter2-secret") == false)
        // Strings libpq cannot parse: its message quotes the fragment where it stopped.
        for malformed in ["postgresql://user:p%zzhunter2-secret@/db", "host=/x password=hunter2-secret dbname"] {
            let parseError = await #expect(throws: PostgresError.self) {
                _ = try await PostgresConnection.connect(malformed)
            }
            #expect(parseError?.kind == .connectionFailed)
            #expect(parseError?.description.contains("hunter2") == false, "\(parseError?.description ?? "")")
            #expect(parseError?.description.contains("secret") == false, "\(parseError?.description ?? "")")
        }
    }

    @Test("a server that is not running gives a connection error naming the socket")
    func serverNotRunning() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tidemark-no-server-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let error = await #expect(throws: PostgresError.self) {
            _ = try await PostgresConnection.connect("host=\(directory.path) dbname=x user=y")
        }
        #expect(error?.kind == .connectionFailed)
        #expect(error?.message.contains(directory.path) == true)
        #expect(error?.isRetryable == false)
    }
}
