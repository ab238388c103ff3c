import Catalog
import EventStore
import Foundation
import Postgres

/// Projection "sessions": one row per session, per task and per restore point.
///
/// A batch assembles each touched row from its events in memory (checkpoint figures are
/// cumulative, so the latest wins), then merges the rows into the tables with one upsert
/// per table: a column the batch did not touch keeps its stored value.
public struct SessionsProjection: Projection {
    public let name = "sessions"
    public let tables = ["sessions", "tasks", "restore_points"]
    public let categories = [SessionEvent.category]

    public init() {}

    struct SessionRow {
        var jobID, jobName, trigger, state, result, bottleneck: String?
        var jobVersion: Int64?
        var startedAt, finishedAt: Date?
        var vmCount: Int64?
        var processed, read, transferred: Int64?
        var dedupe, compression, rate, duration: Double?
        var busy: SessionEvent.Busy?
        var lastEventAt = Date.distantPast
    }

    struct TaskRow {
        var vmID, vmName, proxyID, proxyName, transportMode, state: String?
        var diskKey, sizeBytes, attempts, offset, read, transferred, newChunks: Int64?
        var startedAt: Date?
        /// Set by a finish, cleared (`.some(nil)`) by the next attempt's start.
        var result, message: String??
        var finishedAt: Date??
    }

    /// `ProxySelected` without its candidates, which the tables do not hold: decoding them
    /// would cost the rebuild a tenth of its time.
    struct ProxyChoice: Decodable {
        let taskId, proxyId, proxyName, transportMode: String

        enum CodingKeys: String, CodingKey {
            case taskId = "task_id", proxyId = "proxy_id", proxyName = "proxy_name", transportMode = "transport_mode"
        }
    }

    struct RestorePointRow {
        var created: SessionEvent.RestorePointCreated
        var sessionID: String
        var createdAt: Date
    }

    static let sessionsUpsert = Upsert(
        table: "sessions", key: ["session_id"],
        updated: [
            "job_id", "job_name", "job_version", "trigger", "state", "result", "started_at", "finished_at", "vm_count",
            "processed_bytes", "read_bytes", "transferred_bytes", "dedupe_ratio", "compression_ratio", "rate_bytes_per_second",
            "duration_seconds", "bottleneck", "busy_source_percent", "busy_proxy_percent", "busy_network_percent",
            "busy_target_percent", "last_event_at",
        ], conflict: .merge)
    static let tasksUpsert = Upsert(
        table: "tasks", key: ["session_id", "task_id"],
        updated: [
            "vm_id", "vm_name", "disk_key", "size_bytes", "proxy_id", "proxy_name", "transport_mode", "state", "result",
            "message", "attempts", "started_at", "finished_at", "offset_bytes", "read_bytes", "transferred_bytes", "new_chunks",
        ], conflict: .merge)
    static let restorePointsUpsert = Upsert(
        table: "restore_points", key: ["restore_point_id"],
        updated: ["session_id", "job_id", "vm_id", "vm_name", "disks", "size_bytes", "created_at"], conflict: .replace)

    /// Untouched (nil), cleared (`.some(nil)`) or set.
    static func clearable(_ value: RowBatch.Value??) -> RowBatch.Value {
        switch value {
        case .none: return .text(nil)
        case .some(.none): return .null
        case .some(.some(let set)): return set
        }
    }

    public func apply(_ events: [RecordedEvent], in schema: ProjectionSchema, on connection: isolated PostgresConnection) throws {
        let decoder = SessionEvent.decoder()
        var sessions: [String: SessionRow] = [:]
        var tasks: [String: [String: TaskRow]] = [:]
        var restorePoints: [String: RestorePointRow] = [:]
        var removals = RowBatch()

        for event in events {
            guard event.stream.hasPrefix("session-"), let kind = SessionEvent.Kind(rawValue: event.type) else { continue }
            let session = String(event.stream.dropFirst("session-".count))
            let data = Data(event.data.utf8)
            var row = sessions[session] ?? SessionRow()
            row.lastEventAt = event.recordedAt
            func task(_ id: String, _ change: (inout TaskRow) -> Void) {
                var taskRow = tasks[session]?[id] ?? TaskRow()
                change(&taskRow)
                tasks[session, default: [:]][id] = taskRow
            }
            // An event whose data does not decode is left out of the tables, not allowed to
            // stop the projection: the log keeps it for whoever fixes the writer.
            switch kind {
            case .sessionStarted:
                if let started = try? decoder.decode(SessionEvent.Started.self, from: data) {
                    row.jobID = started.jobId
                    row.jobName = started.jobName
                    row.jobVersion = started.jobVersion
                    row.trigger = started.trigger
                }
                row.state = "running"
                row.startedAt = event.recordedAt
            case .objectsEnumerated:
                if let enumerated = try? decoder.decode(SessionEvent.ObjectsEnumerated.self, from: data) {
                    row.vmCount = Int64(enumerated.vms.count)
                }
            case .taskStarted:
                if let started = try? decoder.decode(SessionEvent.TaskStarted.self, from: data) {
                    task(started.taskId) {
                        $0.vmID = started.vmId
                        $0.vmName = started.vmName
                        $0.diskKey = started.diskKey.map(Int64.init)
                        $0.sizeBytes = started.sizeBytes
                        $0.attempts = Int64(started.attempt)
                        $0.state = "running"
                        $0.startedAt = event.recordedAt
                        $0.result = .some(nil)
                        $0.message = .some(nil)
                        $0.finishedAt = .some(nil)
                    }
                }
            case .proxySelected:
                if let selected = try? decoder.decode(ProxyChoice.self, from: data) {
                    task(selected.taskId) {
                        $0.proxyID = selected.proxyId
                        $0.proxyName = selected.proxyName
                        $0.transportMode = selected.transportMode
                    }
                }
            case .transferCheckpointed, .transferFinished:
                if let progress = try? decoder.decode(SessionEvent.TransferProgress.self, from: data) {
                    task(progress.taskId) {
                        $0.offset = progress.offset
                        $0.read = progress.bytesRead
                        $0.transferred = progress.bytesTransferred
                        $0.newChunks = progress.newChunks
                    }
                }
            case .taskFinished:
                if let finished = try? decoder.decode(SessionEvent.TaskFinished.self, from: data) {
                    task(finished.taskId) {
                        $0.state = "finished"
                        $0.result = .some(finished.result)
                        $0.message = .some(finished.message)
                        $0.finishedAt = .some(event.recordedAt)
                    }
                }
            case .restorePointCreated:
                if let created = try? decoder.decode(SessionEvent.RestorePointCreated.self, from: data) {
                    restorePoints[created.restorePointId] = RestorePointRow(created: created, sessionID: session, createdAt: event.recordedAt)
                }
            case .restorePointRemoved:
                if let removed = try? decoder.decode(SessionEvent.RestorePointRemoved.self, from: data) {
                    removals.append([
                        "restore_point_id": .text(removed.restorePointId), "at": .time(event.recordedAt), "reason": .text(removed.reason),
                    ])
                }
            case .sessionFinished:
                if let finished = try? decoder.decode(SessionEvent.Finished.self, from: data) {
                    row.result = finished.result
                    row.processed = finished.processedBytes
                    row.read = finished.readBytes
                    row.transferred = finished.transferredBytes
                    row.dedupe = finished.dedupeRatio
                    row.compression = finished.compressionRatio
                    row.duration = finished.durationSeconds
                    row.rate = finished.durationSeconds > 0 ? Double(finished.processedBytes) / finished.durationSeconds : nil
                    row.busy = finished.busy
                    row.bottleneck = finished.bottleneck ?? finished.busy?.bottleneck
                }
                row.state = "finished"
                row.finishedAt = event.recordedAt
            case .repositoryChecked, .taskWaited, .applicationProcessed, .snapshotRequested, .snapshotCreated,
                .throttleApplied, .transferStarted, .snapshotRemoved:
                break
            }
            sessions[session] = row
        }

        var sessionRows = RowBatch()
        for (id, row) in sessions.sorted(by: { $0.key < $1.key }) {
            sessionRows.append([
                "session_id": .text(id), "job_id": .text(row.jobID), "job_name": .text(row.jobName),
                "job_version": .integer(row.jobVersion), "trigger": .text(row.trigger), "state": .text(row.state),
                "result": .text(row.result), "started_at": .time(row.startedAt), "finished_at": .time(row.finishedAt),
                "vm_count": .integer(row.vmCount), "processed_bytes": .integer(row.processed), "read_bytes": .integer(row.read),
                "transferred_bytes": .integer(row.transferred), "dedupe_ratio": .double(row.dedupe),
                "compression_ratio": .double(row.compression), "rate_bytes_per_second": .double(row.rate),
                "duration_seconds": .double(row.duration), "bottleneck": .text(row.bottleneck),
                "busy_source_percent": .double(row.busy?.source), "busy_proxy_percent": .double(row.busy?.proxy),
                "busy_network_percent": .double(row.busy?.network), "busy_target_percent": .double(row.busy?.target),
                "last_event_at": .time(row.lastEventAt),
            ])
        }
        try Self.sessionsUpsert.write(sessionRows, in: schema, on: connection)

        var taskRows = RowBatch()
        for (session, byTask) in tasks.sorted(by: { $0.key < $1.key }) {
            for (id, row) in byTask.sorted(by: { $0.key < $1.key }) {
                taskRows.append([
                    "session_id": .text(session), "task_id": .text(id), "vm_id": .text(row.vmID), "vm_name": .text(row.vmName),
                    "disk_key": .integer(row.diskKey), "size_bytes": .integer(row.sizeBytes), "proxy_id": .text(row.proxyID),
                    "proxy_name": .text(row.proxyName), "transport_mode": .text(row.transportMode), "state": .text(row.state),
                    "result": Self.clearable(row.result.map { $0.map(RowBatch.Value.text) }), "message": Self.clearable(row.message.map { $0.map(RowBatch.Value.text) }),
                    "attempts": .integer(row.attempts), "started_at": .time(row.startedAt),
                    "finished_at": Self.clearable(row.finishedAt.map { $0.map(RowBatch.Value.time) }), "offset_bytes": .integer(row.offset),
                    "read_bytes": .integer(row.read), "transferred_bytes": .integer(row.transferred), "new_chunks": .integer(row.newChunks),
                ])
            }
        }
        try Self.tasksUpsert.write(taskRows, in: schema, on: connection)

        var pointRows = RowBatch()
        for (id, point) in restorePoints.sorted(by: { $0.key < $1.key }) {
            pointRows.append([
                "restore_point_id": .text(id), "session_id": .text(point.sessionID), "job_id": .text(point.created.jobId),
                "vm_id": .text(point.created.vmId), "vm_name": .text(point.created.vmName), "disks": .texts(point.created.disks),
                "size_bytes": .integer(point.created.sizeBytes), "created_at": .time(point.createdAt),
            ])
        }
        try Self.restorePointsUpsert.write(pointRows, in: schema, on: connection)

        if !removals.isEmpty {
            _ = try connection.query(
                """
                UPDATE \(schema.table("restore_points")) rp SET removed_at = u.at, removal_reason = u.reason
                  FROM jsonb_to_recordset($1::jsonb) AS u(restore_point_id text, at timestamptz, reason text)
                 WHERE rp.restore_point_id = u.restore_point_id
                """, [removals.json])
        }
    }
}
