import ArgumentParser
import CommandLineSupport
import Foundation
import Postgres
import Projections

/// `tidemark session list|show`: sessions as the projections hold them.
struct SessionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "session",
        abstract: "Backup sessions, restores and publishes: their results, statistics and tasks (from the projections, caught up first).",
        subcommands: [List.self, Show.self, SessionReplay.self])

    static func withCaughtUpPool<T>(_ options: GlobalOptions, _ body: (PostgresPool) async throws -> T) async throws -> T {
        let logger = try options.makeLogger()
        let store = try await CatalogDatabase(options: options, logger: logger).openEventStore(maximumConnections: 2)
        do {
            try await Projector(
                store: store, projections: [SessionsProjection(), CatalogProjection(), RestoresProjection(), PublishesProjection()],
                logger: logger
            )
            .catchUp()
            let value = try await body(store.pool)
            await store.pool.close()
            return value
        } catch {
            await store.pool.close()
            throw error
        }
    }

    static func megabytes(_ bytes: Int64?) -> String { bytes.map { String(format: "%.1f MB", Double($0) / 1e6) } ?? "-" }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The latest sessions, backups and restores, newest first.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Only this job's sessions.") var job: String?
        @Option(help: "How many.") var limit: Int = 20
        @Flag(help: "Print JSON for scripts: the rows of reporting.sessions.") var json = false

        func run() async throws {
            let (job, limit, json) = (self.job, self.limit, self.json)
            let (rows, text, restores) = try await withCaughtUpPool(options) { pool -> (PostgresResult, String?, [(Date?, [String])]) in
                let rows = try await pool.query(
                    """
                    SELECT session_id, coalesce(job_name, '-'), coalesce(result, state, '-'), started_at, duration_seconds,
                           processed_bytes, transferred_bytes, coalesce(bottleneck, '-'), reason
                      FROM reporting.sessions WHERE ($1::text IS NULL OR lower(job_name) = lower($1))
                     ORDER BY started_at DESC NULLS LAST LIMIT $2
                    """, [job, limit])
                if rows.rowCount == 0, let job {
                    let known = try await pool.query("SELECT 1 FROM projection.jobs WHERE lower(name) = lower($1)", [job])
                    if known.rowCount == 0 { throw try await unknownJob(job, pool: pool) }
                }
                return (
                    rows, json ? try await listJSON(job: job, limit: limit, pool: pool) : nil,
                    job == nil && !json
                        ? try await restoreRows(limit: limit, pool: pool) + publishRows(limit: limit, pool: pool) : []
                )
            }
            if let text {
                print(text)
                return
            }
            guard rows.rowCount > 0 || !restores.isEmpty else {
                print("no sessions yet: run one with 'tidemark job start NAME'")
                return
            }
            let formatter = ISO8601DateFormatter()
            var entries: [(Date?, [String])] = restores
            for row in 0..<rows.rowCount {
                let started: Date? = try rows.decodeIfPresent(row, 3)
                let duration: Double? = try rows.decodeIfPresent(row, 4)
                entries.append(
                    (
                        started,
                        [
                            try rows.decode(row, 0), try rows.decode(row, 1), try rows.decode(row, 2),
                            started.map(formatter.string(from:)) ?? "-",
                            duration.map { String(format: "%.1f s", $0) } ?? "-", megabytes(try rows.decodeIfPresent(row, 5)),
                            megabytes(try rows.decodeIfPresent(row, 6)), try rows.decode(row, 7),
                            SessionCommand.shortReason(try rows.decodeIfPresent(row, 8)),
                        ]
                    ))
            }
            // Backups and restores by start, newest first, the limit over both.
            entries.sort { ($0.0 ?? .distantPast) > ($1.0 ?? .distantPast) }
            let table =
                [["SESSION", "JOB", "RESULT", "STARTED", "DURATION", "PROCESSED", "TRANSFERRED", "BOTTLENECK", "REASON"]]
                + entries.prefix(limit).map(\.1)
            print(TextTable.render(table, rightAligned: [4, 5, 6]), terminator: "")
        }
    }

    /// Why a session did not succeed, cut to fit a table row (`session show` has it whole).
    static func shortReason(_ reason: String?) -> String {
        guard let reason, !reason.isEmpty else { return "-" }
        let line = reason.replacingOccurrences(of: "\n", with: " ")
        return line.count > 60 ? String(line.prefix(59)) + "…" : line
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One session: its statistics and a table of its tasks.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The session's id (or its first characters).") var id: String
        @Flag(help: "Print JSON for scripts: the session's row of reporting.sessions and its rows of reporting.tasks.") var json = false

        func run() async throws {
            if json {
                let id = self.id
                print(
                    try await withCaughtUpPool(options) { pool in try await showJSON(session: try await resolve(id, pool: pool), pool: pool)
                    })
                return
            }
            let prefix = id.lowercased()
            let (found, restore) = try await withCaughtUpPool(options) { pool -> ((PostgresResult, PostgresResult)?, String?) in
                let session = try await pool.query(
                    """
                    SELECT session_id, job_name, trigger, coalesce(result, state), started_at, finished_at, vm_count, processed_bytes,
                           read_bytes, transferred_bytes, dedupe_ratio, compression_ratio, rate_bytes_per_second, bottleneck,
                           busy_source_percent, busy_proxy_percent, busy_network_percent, busy_target_percent, reason
                      FROM reporting.sessions WHERE session_id LIKE $1 || '%' ORDER BY started_at DESC LIMIT 2
                    """, [prefix])
                guard session.rowCount == 1 else {
                    if session.rowCount == 0, let restore = try await showRestore(prefix, pool: pool) { return (nil, restore) }
                    if session.rowCount == 0, let publish = try await showPublish(prefix, pool: pool) { return (nil, publish) }
                    throw try await noSingleSession(prefix, matches: session.rowCount, pool: pool)
                }
                let tasks = try await pool.query(
                    """
                    SELECT task_id, coalesce(vm_name, vm_id, '-'), coalesce(proxy_name, '-'), coalesce(transport_mode, '-'), coalesce(result, state, '-'),
                           attempts, read_bytes, transferred_bytes, coalesce(message, '')
                      FROM reporting.tasks WHERE session_id = $1 ORDER BY task_id
                    """, [try session.decode(0, 0, as: String.self)])
                return ((session, tasks), nil)
            }
            guard let (session, tasks) = found else {
                print(restore ?? "")
                return
            }
            let formatter = ISO8601DateFormatter()
            func text(_ column: Int) throws -> String { try session.decodeIfPresent(0, column, as: String.self) ?? "-" }
            func number(_ column: Int) throws -> Double? { try session.decodeIfPresent(0, column, as: Double.self) }
            let started: Date? = try session.decodeIfPresent(0, 4), finished: Date? = try session.decodeIfPresent(0, 5)
            print("session \(try text(0))")
            print("  job:         \(try text(1)) (\(try text(2)))")
            print("  result:      \(try text(3))")
            if let reason = try session.decodeIfPresent(0, 18, as: String.self) { print("  reason:      \(reason)") }
            print("  started:     \(started.map(formatter.string(from:)) ?? "-"), finished \(finished.map(formatter.string(from:)) ?? "-")")
            print(
                "  processed:   \(megabytes(try session.decodeIfPresent(0, 7))), read \(megabytes(try session.decodeIfPresent(0, 8))), transferred \(megabytes(try session.decodeIfPresent(0, 9)))"
            )
            print(
                "  reduction:   dedupe \(try number(10).map { String(format: "%.2fx", $0) } ?? "-"), compression \(try number(11).map { String(format: "%.2fx", $0) } ?? "-")"
            )
            print("  rate:        \(try number(12).map { String(format: "%.0f MB/s", $0 / 1e6) } ?? "-")")
            print(
                "  bottleneck:  \(try text(13)) (busy: source \(try number(14) ?? 0)%, proxy \(try number(15) ?? 0)%, network \(try number(16) ?? 0)%, target \(try number(17) ?? 0)%)"
            )
            var table = [["TASK", "VM", "PROXY", "MODE", "RESULT", "TRIES", "READ", "TRANSFERRED", "MESSAGE"]]
            for row in 0..<tasks.rowCount {
                let attempts: Int64? = try tasks.decodeIfPresent(row, 5)
                table.append([
                    try tasks.decode(row, 0), try tasks.decode(row, 1), try tasks.decode(row, 2), try tasks.decode(row, 3),
                    try tasks.decode(row, 4),
                    attempts.map(String.init) ?? "-", megabytes(try tasks.decodeIfPresent(row, 6)),
                    megabytes(try tasks.decodeIfPresent(row, 7)),
                    try tasks.decode(row, 8),
                ])
            }
            print(TextTable.render(table, rightAligned: [5, 6, 7]).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        }
    }
}
