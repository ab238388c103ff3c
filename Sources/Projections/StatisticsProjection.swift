import Catalog
import EventStore
import Foundation
import Postgres
import WorkflowEvents

/// Projection "statistics": totals per UTC day of the sessions that finished that day and
/// the restore points created and removed. A batch adds its sums to the stored ones.
public struct StatisticsProjection: Projection {
    public let name = "statistics"
    public let tables = ["daily_statistics"]
    public let categories = [SessionEvent.category]

    public init() {}

    struct Day {
        var sessions = 0, succeeded = 0, warnings = 0, failed = 0
        var processed: Int64 = 0, read: Int64 = 0, transferred: Int64 = 0
        /// Milliseconds, summed exactly.
        var durationMilliseconds: Int64 = 0
        var created = 0, removed = 0
    }

    static let upsert = Upsert(
        table: "daily_statistics", key: ["day"],
        updated: [
            "sessions", "succeeded", "warnings", "failed", "processed_bytes", "read_bytes", "transferred_bytes",
            "duration_seconds", "restore_points_created", "restore_points_removed",
        ],
        conflict: .add(caps: [
            "processed_bytes": "9223372036854775807", "read_bytes": "9223372036854775807", "transferred_bytes": "9223372036854775807",
            "duration_seconds": "999999999999999.999",
        ]))

    public func apply(_ events: [RecordedEvent], in schema: ProjectionSchema, on connection: isolated PostgresConnection) throws {
        var days: [String: Day] = [:]
        for event in events {
            let key = Self.utcDay(event.recordedAt)
            switch event.type {
            case SessionEvent.Kind.sessionFinished.rawValue:
                let finished = FlatJSON(event.data)
                guard let result = finished.string(SessionEvent.Field.result) else { continue }
                var day = days[key] ?? Day()
                day.sessions += 1
                switch SessionEvent.Outcome(rawValue: result.lowercased()) {
                case .success: day.succeeded += 1
                case .warning: day.warnings += 1
                default: day.failed += 1
                }
                // Sums saturate and durations are bounded: a wild figure in one event must
                // neither trap nor stop the projection.
                day.processed = Self.add(day.processed, finished.int64(SessionEvent.Field.processedBytes))
                day.read = Self.add(day.read, finished.int64(SessionEvent.Field.readBytes))
                day.transferred = Self.add(day.transferred, finished.int64(SessionEvent.Field.transferredBytes))
                let seconds = min(max(finished.double(SessionEvent.Field.durationSeconds) ?? 0, 0), 1e9)
                day.durationMilliseconds = Self.add(day.durationMilliseconds, Int64((seconds * 1_000).rounded()))
                days[key] = day
            case SessionEvent.Kind.restorePointCreated.rawValue:
                days[key, default: Day()].created += 1
            case SessionEvent.Kind.restorePointRemoved.rawValue:
                days[key, default: Day()].removed += 1
            default:
                continue
            }
        }
        var rows = RowBatch()
        for (key, day) in days.sorted(by: { $0.key < $1.key }) {
            rows.append([
                "day": .text(key), "sessions": .integer(Int64(day.sessions)), "succeeded": .integer(Int64(day.succeeded)),
                "warnings": .integer(Int64(day.warnings)), "failed": .integer(Int64(day.failed)),
                "processed_bytes": .integer(day.processed), "read_bytes": .integer(day.read),
                "transferred_bytes": .integer(day.transferred), "duration_seconds": .json(Self.decimalSeconds(day.durationMilliseconds)),
                "restore_points_created": .integer(Int64(day.created)), "restore_points_removed": .integer(Int64(day.removed)),
            ])
        }
        try Self.upsert.write(rows, in: schema, on: connection)
    }

    /// `a + b` for counters that only grow: negatives count as zero, sums saturate.
    static func add(_ a: Int64, _ b: Int64?) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(max(0, b ?? 0))
        return overflow ? .max : sum
    }

    /// Milliseconds (never negative) as an exact decimal number of seconds (`12.345`).
    static func decimalSeconds(_ milliseconds: Int64) -> String {
        let fraction = String(milliseconds % 1_000)
        return "\(milliseconds / 1_000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }

    /// `YYYY-MM-DD` of a moment in UTC.
    static func utcDay(_ date: Date) -> String {
        String(PostgresTimestamp.format(date).prefix(10))
    }
}
