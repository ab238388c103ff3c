import Foundation
import Postgres
import Projections
import TestSupport
import Testing

@Suite("Reporting: the SQL cookbook and the read-only role")
struct CookbookTests {
    /// The SQL blocks of docs/sql-cookbook.md, with their headings.
    static func cookbookQueries() throws -> [(title: String, sql: String)] {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/sql-cookbook.md")
        let text = try String(contentsOf: file, encoding: .utf8)
        var queries: [(String, String)] = []
        var title = ""
        var block: [String]?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("## ") { title = String(line.dropFirst(3)) }
            if line == "```sql" {
                block = []
            } else if line == "```", let lines = block {
                queries.append((title, lines.joined(separator: "\n")))
                block = nil
            } else if block != nil {
                block!.append(String(line))
            }
        }
        return queries
    }

    /// A connection as a new login role granted `tidemark_reader`, as a BI tool would have.
    static func reader(of database: TestDatabase) async throws -> PostgresConnection {
        let role = "reader_" + database.name
        try await database.administratorQuery("CREATE ROLE \(role) LOGIN")
        try await database.administratorQuery("GRANT tidemark_reader TO \(role)")
        return try await PostgresConnection.connect(database.administrator.with("user", role))
    }

    @Test("every cookbook query runs as a reader, and the main ones find the history")
    func cookbook() async throws {
        var fixture = try await HistoryFixture.make(jobs: 5, vmsPerJob: 3)
        try await fixture.addSessions(40)
        try await Projector(store: fixture.store).catchUp()
        let reader = try await Self.reader(of: fixture.database)
        defer { Task { await reader.close() } }

        let queries = try Self.cookbookQueries()
        #expect(queries.count >= 10)
        var rows: [String: Int] = [:]
        for (title, sql) in queries {
            do {
                rows[title] = try await reader.query(sql).rowCount
            } catch {
                Issue.record("cookbook query '\(title)' failed: \(error)")
            }
        }
        for title in rows.keys
        where title.hasPrefix("1.") || title.hasPrefix("3.") || title.hasPrefix("4.") || title.hasPrefix("5.")
            || title.hasPrefix("6.") || title.hasPrefix("7.") || title.hasPrefix("10.") || title.hasPrefix("12.") || title.hasPrefix("14.")
        {
            #expect(rows[title, default: 0] > 0, "'\(title)' returned no rows")
        }
        #expect(rows.first { $0.key.hasPrefix("1.") }?.value == 4)  // five jobs, one removed by the history
    }

    @Test("the reader role can read the reports and the log, and change nothing")
    func readerIsReadOnly() async throws {
        let fixture = try await HistoryFixture.make(jobs: 2, vmsPerJob: 1)
        try await Projector(store: fixture.store).catchUp()
        let reader = try await Self.reader(of: fixture.database)
        defer { Task { await reader.close() } }
        #expect(try await reader.query("SELECT count(*) FROM reporting.jobs").decode(0, 0, as: Int64.self) == 2)
        #expect(try await reader.query("SELECT count(*) FROM tidemark.events").decode(0, 0, as: Int64.self) > 0)
        for statement in [
            "UPDATE projection.jobs SET description = 'x'", "DELETE FROM projection.checkpoints",
            "INSERT INTO projection.daily_statistics VALUES (current_date, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0)",
            "TRUNCATE projection_shadow.jobs", "SELECT tidemark.append_event('job-x', -1, gen_random_uuid(), 'JobAdded', 1, '{}', '{}')",
            "CREATE TABLE reporting.mine (x int)",
        ] {
            await #expect("reader must not run: \(statement)") {
                _ = try await reader.query(statement)
            } throws: { error in
                (error as? PostgresError)?.code?.rawValue == "42501"
            }
        }
    }
}
