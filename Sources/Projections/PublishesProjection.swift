import EventStore
import Foundation
import Postgres
import WorkflowEvents

/// Projection "publishes": one row per publish (instant access) from the `publish` streams —
/// who published which restore point and why, where it was served, what was read and written
/// through it, who stopped it. `reporting.publishes` shows it. An event that does not decode is
/// left out (the log keeps it), never stops the projection.
public struct PublishesProjection: Projection {
    public let name = "publishes"
    public let tables = ["publishes"]
    public let categories = [PublishEvent.category]

    public init() {}

    struct Row {
        var vmID, vmName, point, repository, actor, reason, address, host, state, stopReason, stoppedBy, overlayKept: String?
        var disks: [String]?
        var writable: Bool?
        var requestedAt, stoppedAt: Date?
        var clients, reads, bytesRead, writes, bytesWritten, errors: Int64?
    }

    static let upsert = Upsert(
        table: "publishes", key: ["publish_id"],
        updated: [
            "vm_id", "vm_name", "restore_point_id", "repository_name", "disks", "actor", "reason_given", "writable", "address", "host",
            "requested_at", "stopped_at", "state", "clients", "reads", "bytes_read", "writes", "bytes_written", "errors", "stop_reason",
            "stopped_by", "overlay_kept",
        ], conflict: .merge)

    public func apply(_ events: [RecordedEvent], in schema: ProjectionSchema, on connection: isolated PostgresConnection) throws {
        var rows: [String: Row] = [:]
        let decoder = PublishEvent.decoder()
        for event in events {
            guard let id = PublishEvent.publish(inStream: event.stream), let kind = PublishEvent.Kind(rawValue: event.type) else {
                continue
            }
            let data = Data(event.data.utf8)
            var row = rows[id] ?? Row()
            switch kind {
            case .requested:
                guard let requested = try? decoder.decode(PublishEvent.Requested.self, from: data) else { continue }
                row.vmID = requested.vmId
                row.vmName = requested.vmName
                row.point = requested.restorePointId
                row.repository = requested.repositoryName
                row.disks = requested.disks.map(\.disk)
                row.actor = (try? event.metadata())?.actor
                row.reason = requested.reason
                row.writable = requested.writable
                row.address = requested.listen
                row.requestedAt = event.recordedAt
                row.state = "requested"
            case .started:
                guard let started = try? decoder.decode(PublishEvent.Started.self, from: data) else { continue }
                row.address = started.address
                row.host = started.host
                row.state = "serving"
            case .stopped:
                guard let stopped = try? decoder.decode(PublishEvent.Stopped.self, from: data) else { continue }
                row.state = "stopped"
                row.stoppedAt = event.recordedAt
                row.clients = Int64(stopped.clients)
                row.reads = Int64(stopped.reads)
                row.bytesRead = stopped.bytesRead
                row.writes = Int64(stopped.writes)
                row.bytesWritten = stopped.bytesWritten
                row.errors = Int64(stopped.errors)
                row.stopReason = stopped.reason
                // Interrupted (Ctrl-C, SIGTERM) or ended by `publish stop` for a killed process: the
                // end's own actor stopped it; otherwise the one who asked (`PublishStopRequested`).
                let asked = stopped.reason.hasPrefix("stopped by") && !stopped.reason.contains("no process was serving it")
                if !asked { row.stoppedBy = (try? event.metadata())?.actor }
                row.overlayKept = stopped.overlayKept
            case .stopRequested:
                row.stoppedBy = (try? event.metadata())?.actor
            case .clientConnected:
                continue
            }
            rows[id] = row
        }
        var batch = RowBatch()
        for (id, row) in rows.sorted(by: { $0.key < $1.key }) {
            batch.append([
                "publish_id": .text(id), "vm_id": .text(row.vmID), "vm_name": .text(row.vmName), "restore_point_id": .text(row.point),
                "repository_name": .text(row.repository), "disks": .texts(row.disks), "actor": .text(row.actor),
                "reason_given": .text(row.reason), "writable": .bool(row.writable), "address": .text(row.address),
                "host": .text(row.host), "requested_at": .time(row.requestedAt), "stopped_at": .time(row.stoppedAt),
                "state": .text(row.state), "clients": .integer(row.clients), "reads": .integer(row.reads),
                "bytes_read": .integer(row.bytesRead), "writes": .integer(row.writes), "bytes_written": .integer(row.bytesWritten),
                "errors": .integer(row.errors), "stop_reason": .text(row.stopReason), "stopped_by": .text(row.stoppedBy),
                "overlay_kept": .text(row.overlayKept),
            ])
        }
        try Self.upsert.write(batch, in: schema, on: connection)
    }
}
