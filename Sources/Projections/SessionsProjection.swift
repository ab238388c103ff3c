import Catalog
import EventStore
import Foundation
import Postgres
import WorkflowEvents

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
        var jobID, jobName, trigger, state, result, bottleneck, reason: String?
        /// The repository its RepositoryChecked named (the last, for a resumed session).
        var repositoryID: String?
        /// A copy session's source job.
        var copyOfJobID: String?
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
        /// The host of the proxy process moving it; cleared (`.some(nil)`) when a proxy is
        /// chosen, so an embedded mover shows none.
        var proxyHost: String??
    }

    struct RestorePointRow {
        var sessionID: String
        var jobID: String?
        var vmID: String
        var vmName: String?
        var disks: [String]
        var sizeBytes: Int64?
        var createdAt: Date
        /// A copy's source point and GFS flags.
        var copyOf: String?
        var gfs: [String]?
    }

    static let sessionsUpsert = Upsert(
        table: "sessions", key: ["session_id"],
        updated: [
            "job_id", "job_name", "job_version", "trigger", "state", "result", "started_at", "finished_at", "vm_count",
            "processed_bytes", "read_bytes", "transferred_bytes", "dedupe_ratio", "compression_ratio", "rate_bytes_per_second",
            "duration_seconds", "bottleneck", "busy_source_percent", "busy_proxy_percent", "busy_network_percent",
            "busy_target_percent", "last_event_at", "reason", "repository_id", "copy_of_job_id",
        ], conflict: .merge)
    static let tasksUpsert = Upsert(
        table: "tasks", key: ["session_id", "task_id"],
        updated: [
            "vm_id", "vm_name", "disk_key", "size_bytes", "proxy_id", "proxy_name", "transport_mode", "state", "result",
            "message", "attempts", "started_at", "finished_at", "offset_bytes", "read_bytes", "transferred_bytes", "new_chunks",
            "proxy_host",
        ], conflict: .merge)
    static let restorePointsUpsert = Upsert(
        table: "restore_points", key: ["restore_point_id"],
        updated: ["session_id", "job_id", "vm_id", "vm_name", "disks", "size_bytes", "created_at", "copy_of", "gfs"], conflict: .replace)

    /// Sets a column only when the event carries the field: an event that leaves a field out
    /// changes nothing, whether the earlier value came in this batch or a stored row.
    static func set<T>(_ target: inout T?, _ value: T?) {
        if let value { target = value }
    }

    /// Untouched (nil), cleared (`.some(nil)`) or set.
    static func clearable(_ value: RowBatch.Value??) -> RowBatch.Value {
        switch value {
        case .none: return .text(nil)
        case .some(.none): return .null
        case .some(.some(let set)): return set
        }
    }

    public func apply(_ events: [RecordedEvent], in schema: ProjectionSchema, on connection: isolated PostgresConnection) throws {
        var sessions: [String: SessionRow] = [:]
        var tasks: [String: [String: TaskRow]] = [:]
        var restorePoints: [String: RestorePointRow] = [:]
        var removals = RowBatch()

        for event in events {
            guard let session = SessionEvent.session(inStream: event.stream), let kind = SessionEvent.Kind(rawValue: event.type) else {
                continue
            }
            var row = sessions[session] ?? SessionRow()
            row.lastEventAt = event.recordedAt
            func task(_ id: String, _ change: (inout TaskRow) -> Void) {
                var taskRow = tasks[session]?[id] ?? TaskRow()
                change(&taskRow)
                tasks[session, default: [:]][id] = taskRow
            }
            // An event without the fields it needs is left out of the tables, not allowed to
            // stop the projection: the log keeps it for whoever fixes the writer.
            let json = FlatJSON(event.data)
            switch kind {
            case .sessionStarted:
                Self.set(&row.jobID, json.string(SessionEvent.Field.jobId))
                Self.set(&row.jobName, json.string(SessionEvent.Field.jobName))
                Self.set(&row.jobVersion, json.int64(SessionEvent.Field.jobVersion))
                Self.set(&row.copyOfJobID, json.string(SessionEvent.Field.copyOfJobId))
                Self.set(&row.trigger, json.string(SessionEvent.Field.trigger))
                row.state = "running"
                row.startedAt = event.recordedAt
            case .objectsEnumerated:
                if let vms = json.decode([SessionEvent.EnumeratedVM].self, SessionEvent.Field.vms) {
                    row.vmCount = Int64(min(vms.count, Int(Int32.max)))
                }
            case .taskStarted:
                if let id = json.string(SessionEvent.Field.taskId) {
                    task(id) {
                        Self.set(&$0.vmID, json.string(SessionEvent.Field.vmId))
                        Self.set(&$0.vmName, json.string(SessionEvent.Field.vmName))
                        Self.set(&$0.diskKey, json.int64(SessionEvent.Field.diskKey, in: FlatJSON.int32Range))
                        Self.set(&$0.sizeBytes, json.int64(SessionEvent.Field.sizeBytes))
                        Self.set(&$0.attempts, json.int64(SessionEvent.Field.attempt, in: FlatJSON.int32Range))
                        $0.state = "running"
                        $0.startedAt = event.recordedAt
                        $0.result = .some(nil)
                        $0.message = .some(nil)
                        $0.finishedAt = .some(nil)
                    }
                }
            case .proxySelected:
                if let id = json.string(SessionEvent.Field.taskId) {
                    task(id) {
                        Self.set(&$0.proxyID, json.string(SessionEvent.Field.proxyId))
                        Self.set(&$0.proxyName, json.string(SessionEvent.Field.proxyName))
                        Self.set(&$0.transportMode, json.string(SessionEvent.Field.transportMode))
                        $0.proxyHost = .some(nil)
                    }
                }
            case .taskAssigned:
                if let id = json.string(SessionEvent.Field.taskId) {
                    task(id) { $0.proxyHost = .some(json.string(SessionEvent.Field.host)) }
                }
            case .transferCheckpointed, .transferFinished:
                if let id = json.string(SessionEvent.Field.taskId) {
                    task(id) {
                        Self.set(&$0.offset, json.int64(SessionEvent.Field.offset))
                        Self.set(&$0.read, json.int64(SessionEvent.Field.bytesRead))
                        Self.set(&$0.transferred, json.int64(SessionEvent.Field.bytesTransferred))
                        Self.set(&$0.newChunks, json.int64(SessionEvent.Field.newChunks))
                    }
                }
            case .taskFinished:
                if let id = json.string(SessionEvent.Field.taskId) {
                    task(id) {
                        $0.state = "finished"
                        $0.result = .some(json.string(SessionEvent.Field.result))
                        $0.message = .some(json.string(SessionEvent.Field.message))
                        $0.finishedAt = .some(event.recordedAt)
                    }
                }
            case .restorePointCreated:
                if let id = json.string(SessionEvent.Field.restorePointId), let vm = json.string(SessionEvent.Field.vmId) {
                    restorePoints[id] = RestorePointRow(
                        sessionID: session, jobID: json.string(SessionEvent.Field.jobId), vmID: vm,
                        vmName: json.string(SessionEvent.Field.vmName),
                        disks: json.decode([String].self, SessionEvent.Field.disks) ?? [],
                        sizeBytes: json.int64(SessionEvent.Field.sizeBytes),
                        createdAt: event.recordedAt, copyOf: json.string(SessionEvent.Field.copyOf),
                        gfs: json.decode([String].self, SessionEvent.Field.gfs))
                }
            case .restorePointRemoved:
                if let id = json.string(SessionEvent.Field.restorePointId) {
                    removals.append([
                        "restore_point_id": .text(id), "at": .time(event.recordedAt),
                        "reason": .text(json.string(SessionEvent.Field.reason)),
                    ])
                }
            case .sessionFinished:
                Self.set(&row.result, json.string(SessionEvent.Field.result))
                Self.set(&row.reason, json.string(SessionEvent.Field.reason))
                Self.set(&row.processed, json.int64(SessionEvent.Field.processedBytes))
                Self.set(&row.read, json.int64(SessionEvent.Field.readBytes))
                Self.set(&row.transferred, json.int64(SessionEvent.Field.transferredBytes))
                Self.set(&row.dedupe, json.double(SessionEvent.Field.dedupeRatio))
                Self.set(&row.compression, json.double(SessionEvent.Field.compressionRatio))
                Self.set(&row.duration, json.double(SessionEvent.Field.durationSeconds))
                if let duration = row.duration, duration > 0, let processed = row.processed { row.rate = Double(processed) / duration }
                Self.set(&row.busy, json.decode(SessionEvent.Busy.self, SessionEvent.Field.busy))
                Self.set(&row.bottleneck, json.string(SessionEvent.Field.bottleneck) ?? row.busy?.bottleneck)
                row.state = "finished"
                row.finishedAt = event.recordedAt
            case .repositoryChecked:
                Self.set(&row.repositoryID, json.string(SessionEvent.Field.repositoryId))
            case .retentionDeferred, .copyVerified, .guestIndexStarted, .guestIndexFinished, .taskWaited, .applicationProcessed,
                .snapshotRequested, .snapshotCreated,
                .throttleApplied, .transferStarted, .snapshotRemoved, .taskReassigned:
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
                "last_event_at": .time(row.lastEventAt), "reason": .text(row.reason), "repository_id": .text(row.repositoryID),
                "copy_of_job_id": .text(row.copyOfJobID),
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
                    "result": Self.clearable(row.result.map { $0.map(RowBatch.Value.text) }),
                    "message": Self.clearable(row.message.map { $0.map(RowBatch.Value.text) }),
                    "attempts": .integer(row.attempts), "started_at": .time(row.startedAt),
                    "finished_at": Self.clearable(row.finishedAt.map { $0.map(RowBatch.Value.time) }), "offset_bytes": .integer(row.offset),
                    "read_bytes": .integer(row.read), "transferred_bytes": .integer(row.transferred), "new_chunks": .integer(row.newChunks),
                    "proxy_host": Self.clearable(row.proxyHost.map { $0.map(RowBatch.Value.text) }),
                ])
            }
        }
        try Self.tasksUpsert.write(taskRows, in: schema, on: connection)

        var pointRows = RowBatch()
        for (id, point) in restorePoints.sorted(by: { $0.key < $1.key }) {
            pointRows.append([
                "restore_point_id": .text(id), "session_id": .text(point.sessionID), "job_id": .text(point.jobID),
                "vm_id": .text(point.vmID), "vm_name": .text(point.vmName), "disks": .texts(point.disks),
                "size_bytes": .integer(point.sizeBytes), "created_at": .time(point.createdAt), "copy_of": .text(point.copyOf),
                "gfs": .texts(point.gfs),
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
