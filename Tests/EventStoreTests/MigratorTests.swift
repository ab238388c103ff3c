import EventStore
import Foundation
import Postgres
import TestSupport
import Testing

@Suite("Migrations")
struct MigratorTests {
    @Test("migrating twice applies each file once; status lists them applied")
    func migrateIsIdempotent() async throws {
        let database = try await TestDatabase.create(migrated: false)
        let migrator = try Migrator.bundled(logger: quietLogger)
        let pending = try await migrator.status(database.administrator)
        #expect(pending.allSatisfy { $0.state == .pending })
        #expect(try await migrator.migrate(database.administrator) == migrator.files.map(\.name))
        #expect(try await migrator.migrate(database.administrator).isEmpty)
        let statuses = try await migrator.status(database.administrator)
        #expect(statuses.count == migrator.files.count)
        #expect(statuses.allSatisfy { if case .applied = $0.state { true } else { false } })
    }

    @Test("two processes migrating at once do not collide: each file is applied exactly once")
    func concurrentMigrations() async throws {
        let database = try await TestDatabase.create(migrated: false)
        let first = try Migrator.bundled(logger: quietLogger)
        let second = try Migrator.bundled(logger: quietLogger)
        async let a = first.migrate(database.administrator)
        async let b = second.migrate(database.administrator)
        let applied = try await a + b
        #expect(applied.sorted() == first.files.map(\.name))
        let recorded = try await database.administratorQuery("SELECT count(*) FROM tidemark.schema_migrations")
        #expect(try recorded.decode(0, 0, as: Int.self) == first.files.count)
    }

    @Test("a login squatting the migration lock makes db migrate fail naming it, not hang")
    func squattedLockNamed() async throws {
        let database = try await TestDatabase.create()
        let reader = try await database.readerConnection()
        defer { Task { await reader.close() } }
        let pid: Int32 = try await reader.query("SELECT pg_backend_pid()").decode(0, 0)
        _ = try await reader.query("SELECT pg_advisory_lock(hashtext('tidemark.migrations'))")
        var migrator = try Migrator.bundled(logger: quietLogger)
        migrator.lockPatience = .milliseconds(600)
        let error = await #expect(throws: MigrationError.self) { try await migrator.migrate(database.administrator) }
        #expect(error?.message.contains("server process \(pid) (role reader_\(database.name))") == true, "\(error?.message ?? "")")
        _ = try await reader.query("SELECT pg_advisory_unlock_all()")
        #expect(try await migrator.migrate(database.administrator).isEmpty)
    }

    @Test("a migration file edited after it was applied is refused by name, and nothing newer is applied")
    func editedFileRefused() async throws {
        let database = try await TestDatabase.create()
        let bundled = try Migrator.bundled(logger: quietLogger).files
        var files = try bundled.map { file in
            file.name == "0002_event_log.sql"
                ? try MigrationFile(name: file.name, sql: file.sql + "\n-- an innocent-looking edit\n") : file
        }
        files.append(try MigrationFile(name: "0999_later_change.sql", sql: "CREATE TABLE tidemark.later (n int);"))
        let edited = try Migrator(files: files, logger: quietLogger)
        let error = await #expect(throws: MigrationError.self) { try await edited.migrate(database.administrator) }
        #expect(error?.file == "0002_event_log.sql")
        #expect(error?.message.contains("changed after it was applied") == true)
        let later = try await database.administratorQuery("SELECT to_regclass('tidemark.later') IS NULL")
        #expect(try later.decode(0, 0, as: Bool.self))
        let statuses = try await edited.status(database.administrator)
        #expect(statuses.contains { $0.name == "0002_event_log.sql" && { if case .changed = $0.state { true } else { false } }($0) })
        #expect(statuses.contains { $0.name == "0999_later_change.sql" && $0.state == .pending })
    }

    @Test("a failing migration is rolled back whole and not recorded; the error names the file")
    func failingMigrationRollsBack() async throws {
        let database = try await TestDatabase.create()
        var files = try Migrator.bundled(logger: quietLogger).files
        files.append(
            try MigrationFile(
                name: "0998_broken.sql", sql: "CREATE TABLE tidemark.half (n int);\nSELECT no_such_function();"))
        let error = await #expect(throws: MigrationError.self) {
            try await Migrator(files: files, logger: quietLogger).migrate(database.administrator)
        }
        #expect(error?.file == "0998_broken.sql")
        #expect(error?.message.contains("no_such_function") == true)
        let half = try await database.administratorQuery("SELECT to_regclass('tidemark.half') IS NULL")
        #expect(try half.decode(0, 0, as: Bool.self))
        let recorded = try await database.administratorQuery(
            "SELECT count(*) FROM tidemark.schema_migrations WHERE version = 998")
        #expect(try recorded.decode(0, 0, as: Int.self) == 0)
    }

    @Test(
        "badly named or duplicate-numbered files are refused before anything runs",
        arguments: [
            "1_roles.sql", "0001-roles.sql", "0001_Roles.sql", "0001_roles.txt", "abcd_roles.sql", "0000_zero.sql",
        ])
    func badFileNames(name: String) {
        let error = #expect(throws: MigrationError.self) { try MigrationFile(name: name, sql: "") }
        #expect(error?.file == name)
    }

    @Test("two files with one number are refused")
    func duplicateNumbers() throws {
        let files = [try MigrationFile(name: "0001_a.sql", sql: ""), try MigrationFile(name: "0001_b.sql", sql: "")]
        let error = #expect(throws: MigrationError.self) { try Migrator(files: files) }
        #expect(error?.message.contains("share the number 1") == true)
    }
}
