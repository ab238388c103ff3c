import Foundation
import Postgres
import TestSupport
import Testing

@Suite("Pool, LISTEN/NOTIFY, COPY, broken connections")
struct PoolTests {
    @Test("the pool never opens more connections than its bound")
    func bounded() async throws {
        let database = try await TestDatabase.create(migrated: false)
        let pool = database.administratorPool(maximumConnections: 2)
        let pids = try await withThrowingTaskGroup(of: Int32.self) { group in
            for _ in 0..<10 {
                group.addTask {
                    try await pool.withConnection { connection in
                        try await connection.query("SELECT pg_sleep(0.05)")
                        return await connection.backendProcessID
                    }
                }
            }
            return try await group.reduce(into: Set<Int32>()) { $0.insert($1) }
        }
        #expect(pids.count <= 2)
        #expect(pids.count >= 1)
        await pool.close()
    }

    @Test("a notification sent by one connection reaches a listener")
    func listenNotify() async throws {
        let database = try await TestDatabase.create(migrated: false)
        let listener = try await PostgresConnection.connect(database.administrator)
        let sender = try await PostgresConnection.connect(database.administrator)
        try await listener.listen("Tidemark Channel")
        #expect(try await listener.waitForNotifications(timeout: .milliseconds(50)).isEmpty)
        try await sender.notify("Tidemark Channel", payload: "42")
        var received: [PostgresNotification] = []
        for _ in 0..<20 where received.isEmpty {
            received = try await listener.waitForNotifications(timeout: .milliseconds(250))
        }
        #expect(received.map(\.payload) == ["42"])
        #expect(received.first?.channel == "Tidemark Channel")
        await listener.close()
        await sender.close()
    }

    @Test("COPY FROM STDIN loads rows with awkward characters and NULLs exactly")
    func copyIn() async throws {
        let database = try await TestDatabase.create(migrated: false)
        let connection = try await PostgresConnection.connect(database.administrator)
        try await connection.execute("CREATE TABLE loaded (n int8 NOT NULL, body text)")
        var rows: [[String?]] = (1...5_000).map { [String($0), "row \($0)"] }
        rows.append(["5001", "tab\there\nnewline \\ backslash \r cr"])
        rows.append(["5002", nil])
        let stored = try await connection.copyFromStdin("COPY loaded (n, body) FROM STDIN", rows: rows)
        #expect(stored == 5_002)
        let awkward = try await connection.query("SELECT body FROM loaded WHERE n = 5001")
        #expect(try awkward.decode(0, 0, as: String.self) == "tab\there\nnewline \\ backslash \r cr")
        #expect(try await connection.query("SELECT body FROM loaded WHERE n = 5002").isNull(0, 0))
        await connection.close()
    }

    @Test("a COPY with one bad row stores nothing and the connection stays usable")
    func copyRefusesBadRow() async throws {
        let database = try await TestDatabase.create(migrated: false)
        let connection = try await PostgresConnection.connect(database.administrator)
        try await connection.execute("CREATE TABLE loaded (n int8 NOT NULL)")
        let error = await #expect(throws: PostgresError.self) {
            try await connection.copyFromStdin("COPY loaded (n) FROM STDIN", rows: [["1"], ["two"], ["3"]])
        }
        #expect(error?.code == .invalidTextRepresentation)
        #expect(try await connection.query("SELECT count(*) FROM loaded").decode(0, 0, as: Int.self) == 0)
        let notCopy = await #expect(throws: PostgresError.self) {
            try await connection.copyFromStdin("SELECT 1", rows: [["1"]])
        }
        #expect(notCopy?.kind == .invalidInput)
        await connection.close()
    }

    @Test("a backend killed mid-transaction: a retryable error, nothing stored, the pool recovers")
    func killedBackend() async throws {
        let database = try await TestDatabase.create(migrated: false)
        try await database.administratorQuery("CREATE TABLE work (n int)")
        let pool = database.administratorPool(maximumConnections: 1)
        let error = await #expect(throws: PostgresError.self) {
            try await pool.withConnection { connection in
                try await connection.query("BEGIN")
                try await connection.query("INSERT INTO work VALUES (1)")
                let pid = await connection.backendProcessID
                try await database.administratorQuery("SELECT pg_terminate_backend($1)", [pid])
                try await connection.query("INSERT INTO work VALUES (2)")
                try await connection.query("COMMIT")
            }
        }
        #expect(error?.kind == .connectionLost)
        #expect(error?.isRetryable == true)
        #expect(try await pool.query("SELECT count(*) FROM work").decode(0, 0, as: Int.self) == 0)
        try await pool.query("INSERT INTO work VALUES (3)")
        #expect(try await pool.query("SELECT count(*) FROM work").decode(0, 0, as: Int.self) == 1)
        await pool.close()
    }
}
