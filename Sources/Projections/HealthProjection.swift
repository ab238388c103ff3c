import Catalog
import EventStore
import Foundation
import Postgres
import WorkflowEvents

/// Projection "health": each restore point's latest verification (damaged or not, when,
/// what was found) and one row per health check, from the `health` streams.
///
/// Kept apart from the `sessions` projection's `restore_points` so that a check that
/// verifies a restore point before its `RestorePointCreated` is projected loses nothing;
/// `reporting.restore_points` joins the two.
public struct HealthProjection: Projection {
    public let name = "health"
    public let tables = ["restore_point_health", "health_checks"]
    public let categories = [HealthEvent.category]

    public init() {}

    struct PointRow {
        var repositoryID: String?
        var damaged: Bool?
        var verifiedAt: Date?
        var checkID: String?
        /// Set by `RestorePointDamaged`, cleared (`.some(nil)`) by a clean verification.
        var damage: String??
        var references: Int64?
    }

    struct CheckRow {
        var repositoryID, repositoryName, trigger, state, result, actor: String?
        var startedAt, finishedAt: Date?
        var planned, plannedBytes, verified, damaged, bytes, corrupt, missing, healed: Int64?
    }

    static let pointsUpsert = Upsert(
        table: "restore_point_health", key: ["restore_point_id"],
        updated: ["repository_id", "damaged", "last_verified_at", "last_check_id", "damage", "damaged_references"], conflict: .merge)
    static let checksUpsert = Upsert(
        table: "health_checks", key: ["check_id"],
        updated: [
            "repository_id", "repository_name", "trigger", "actor", "state", "result", "started_at", "finished_at", "planned",
            "planned_bytes", "verified", "damaged", "verified_bytes", "corrupt_chunks", "missing_chunks", "healed_chunks",
        ], conflict: .merge)

    public func apply(_ events: [RecordedEvent], in schema: ProjectionSchema, on connection: isolated PostgresConnection) throws {
        var points: [String: PointRow] = [:]
        var checks: [String: CheckRow] = [:]
        for event in events {
            guard let repository = HealthEvent.repository(inStream: event.stream), let kind = HealthEvent.Kind(rawValue: event.type) else {
                continue
            }
            let json = FlatJSON(event.data)
            guard let check = json.string(HealthEvent.Field.checkId) else { continue }
            func point(_ change: (inout PointRow) -> Void) {
                guard let id = json.string(HealthEvent.Field.restorePointId) else { return }
                var row = points[id] ?? PointRow()
                row.repositoryID = repository
                change(&row)
                points[id] = row
            }
            var row = checks[check] ?? CheckRow()
            switch kind {
            case .healthCheckStarted:
                row.repositoryID = repository
                SessionsProjection.set(&row.repositoryName, json.string(HealthEvent.Field.repositoryName))
                SessionsProjection.set(&row.trigger, json.string(HealthEvent.Field.trigger))
                row.actor = (try? event.metadata())?.actor
                row.state = "running"
                row.startedAt = event.recordedAt
                SessionsProjection.set(&row.planned, json.decode([String].self, HealthEvent.Field.planned).map { Int64($0.count) })
                SessionsProjection.set(&row.plannedBytes, json.int64(HealthEvent.Field.plannedBytes))
            case .restorePointVerified:
                point {
                    $0.damaged = json.bool(HealthEvent.Field.damaged) ?? false
                    $0.verifiedAt = event.recordedAt
                    $0.checkID = check
                    if $0.damaged == false {
                        $0.damage = .some(nil)
                        $0.references = 0
                    }
                }
            case .restorePointDamaged:
                point {
                    let first = json.decode([HealthEvent.Damage].self, HealthEvent.Field.damage)?.first
                    $0.damage = .some(first.map { "\($0.disk) at offset \($0.offset): \($0.problem)" })
                    SessionsProjection.set(&$0.references, json.int64(HealthEvent.Field.references))
                }
            case .healthCheckFinished:
                row.state = "finished"
                row.finishedAt = event.recordedAt
                SessionsProjection.set(&row.result, json.string(HealthEvent.Field.result))
                SessionsProjection.set(&row.verified, json.int64(HealthEvent.Field.verified))
                SessionsProjection.set(&row.damaged, json.int64(HealthEvent.Field.damaged))
                SessionsProjection.set(&row.bytes, json.int64(HealthEvent.Field.bytes))
                SessionsProjection.set(&row.corrupt, json.int64(HealthEvent.Field.corruptChunks))
                SessionsProjection.set(&row.missing, json.int64(HealthEvent.Field.missingChunks))
                SessionsProjection.set(&row.healed, json.int64(HealthEvent.Field.healedChunks))
            case .chunkCorrupt, .chunkMissing, .chunkHealed:
                break
            }
            if kind == .healthCheckStarted || kind == .healthCheckFinished { checks[check] = row }
        }

        var pointRows = RowBatch()
        for (id, row) in points.sorted(by: { $0.key < $1.key }) {
            pointRows.append([
                "restore_point_id": .text(id), "repository_id": .text(row.repositoryID), "damaged": .bool(row.damaged),
                "last_verified_at": .time(row.verifiedAt), "last_check_id": .text(row.checkID),
                "damage": SessionsProjection.clearable(row.damage.map { $0.map(RowBatch.Value.text) }),
                "damaged_references": .integer(row.references),
            ])
        }
        try Self.pointsUpsert.write(pointRows, in: schema, on: connection)

        var checkRows = RowBatch()
        for (id, row) in checks.sorted(by: { $0.key < $1.key }) {
            checkRows.append([
                "check_id": .text(id), "repository_id": .text(row.repositoryID), "repository_name": .text(row.repositoryName),
                "trigger": .text(row.trigger), "actor": .text(row.actor), "state": .text(row.state), "result": .text(row.result),
                "started_at": .time(row.startedAt), "finished_at": .time(row.finishedAt), "planned": .integer(row.planned),
                "planned_bytes": .integer(row.plannedBytes), "verified": .integer(row.verified), "damaged": .integer(row.damaged),
                "verified_bytes": .integer(row.bytes), "corrupt_chunks": .integer(row.corrupt), "missing_chunks": .integer(row.missing),
                "healed_chunks": .integer(row.healed),
            ])
        }
        try Self.checksUpsert.write(checkRows, in: schema, on: connection)
    }
}
