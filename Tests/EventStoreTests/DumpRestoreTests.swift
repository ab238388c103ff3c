import EventStore
import Foundation
import Postgres
import PrivateCluster
import TestSupport
import Testing

@Suite("pg_dump and restore into a fresh cluster")
struct DumpRestoreTests {
    @Test("a restored catalog reads back identically, keeps refusing changes, and appends after it")
    func dumpRestoreRoundTrip() async throws {
        let source = try await TestDatabase.create()
        let store = source.eventStore()
        for stream in 0..<5 {
            try await store.append(to: try StreamName("job-\(stream)"), events: try events(10))
        }
        let original = try await store.readAll(after: 0, limit: 1_000)
        await store.pool.close()

        let scratch = URL(fileURLWithPath: ProcessInfo.processInfo.environment["TIDEMARK_TEST_SCRATCH"] ?? NSTemporaryDirectory())
            .appendingPathComponent("restore-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        _ = chmod(scratch.path, 0o755)
        let fresh = try PrivateCluster(dataDirectory: scratch.appendingPathComponent("cluster"))
        try await fresh.startInBackground()
        do {
            try await restore(source, into: fresh, scratch: scratch)
            let restoredStore = EventStore(
                pool: PostgresPool(.init(settings: fresh.settings(database: "restored"))), logger: quietLogger)
            let restored = try await restoredStore.readAll(after: 0, limit: 1_000)
            #expect(restored == original)
            let next = try await restoredStore.append(to: "job-after-restore", events: try events(1))
            #expect(next.positions == [Int64(original.count + 1)])
            await restoredStore.pool.close()

            let superuser = try await PostgresConnection.connect(
                fresh.settings(database: "restored", user: PrivateCluster.superuser))
            let error = await #expect(throws: PostgresError.self) {
                try await superuser.query("DELETE FROM tidemark.events")
            }
            #expect(error?.code == .eventLogImmutable)
            await superuser.close()
        } catch {
            try? await fresh.stopInBackground()
            throw error
        }
        try await fresh.stopInBackground()
        try? FileManager.default.removeItem(at: scratch)
    }

    /// The documented recovery: roles first (they belong to the cluster, not the dump), then the database.
    private func restore(_ source: TestDatabase, into fresh: PrivateCluster, scratch: URL) async throws {
        let runner = ToolRunner(runAsServerAccount: false)
        let dump = scratch.appendingPathComponent("catalog.dump").path
        let roles = scratch.appendingPathComponent("roles.sql").path
        let freshAdmin = fresh.settings(database: "postgres", user: PrivateCluster.superuser).connectionString
        let restored = fresh.settings(database: "restored", user: PrivateCluster.superuser).connectionString
        // The roles script also tries to create the fresh cluster's own superuser; psql reports
        // that one error and goes on, which is why that step alone may exit non-zero.
        let steps: [(program: String, arguments: [String], mustSucceed: Bool)] = [
            ("pg_dump", ["--format=custom", "--file=\(dump)", "--dbname=\(source.administratorConnectionString)"], true),
            ("pg_dumpall", ["--roles-only", "--file=\(roles)", "--dbname=\(source.administratorConnectionString)"], true),
            ("psql", ["--quiet", "--file=\(roles)", "--dbname=\(freshAdmin)"], false),
            ("psql", ["--quiet", "-v", "ON_ERROR_STOP=1", "--command=CREATE DATABASE restored", "--dbname=\(freshAdmin)"], true),
            ("pg_restore", ["--exit-on-error", "--dbname=\(restored)", dump], true),
        ]
        for step in steps {
            let output = try runner.run(try locate(step.program), step.arguments)
            if step.mustSucceed && output.status != 0 {
                Issue.record("\(step.program) failed (\(output.status)): \(output.text)")
                throw TestSetupError("\(step.program) failed")
            }
        }
    }

    private func locate(_ program: String) throws -> String {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let path = "\(directory)/\(program)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw TestSetupError("\(program) is not on PATH: run Tools/install-dependencies (postgresql-client)")
    }
}
