import EventStore
import Foundation
import Postgres
import WorkflowEvents

/// Projection "restores": one row per restore (who asked, why, to where, how it ended) and one
/// per VM of a restore (which restore point, the VM created, the files written, switched on),
/// from the `restore` streams. `reporting.restores` joins them.
///
/// Restores are few next to backup events, so each event is decoded whole with its contract's
/// types; an event that does not decode is left out (the log keeps it), never stops the
/// projection.
public struct RestoresProjection: Projection {
    public let name = "restores"
    public let tables = ["restores", "restore_vms"]
    public let categories = [RestoreEvent.category]

    public init() {}

    struct RestoreRow {
        var what, actor, reasonGiven, repositoryID, repositoryName, serverID, server, folder, datastore, state, result, reason,
            bottleneck, throttleRule: String?
        var requestedAt, finishedAt: Date?
        var read, written, skipped, rate, throttleRate, filesRestored: Int64?
        var duration: Double?
    }

    struct MachineRow {
        var name, point, targetName, targetID, targetVMName: String?
        var pointCreatedAt: Date?
        var adopted, poweredOn: Bool?
        var files: [String]?
        var disks: Int64?
    }

    static let restoresUpsert = Upsert(
        table: "restores", key: ["restore_id"],
        updated: [
            "what", "actor", "reason_given", "repository_id", "repository_name", "target_server_id", "target_server", "target_folder",
            "target_datastore", "state", "result", "reason", "requested_at", "finished_at", "read_bytes", "written_bytes",
            "skipped_bytes", "duration_seconds", "bytes_per_second", "bottleneck", "throttle_rule", "throttle_bytes_per_second",
            "files_restored",
        ], conflict: .merge)
    static let machinesUpsert = Upsert(
        table: "restore_vms", key: ["restore_id", "vm_id"],
        updated: [
            "vm_name", "restore_point_id", "point_created_at", "target_name", "target_vm_id", "target_vm_name", "adopted", "files",
            "disks", "powered_on",
        ], conflict: .merge)

    public func apply(_ events: [RecordedEvent], in schema: ProjectionSchema, on connection: isolated PostgresConnection) throws {
        var restores: [String: RestoreRow] = [:]
        var machines: [String: [String: MachineRow]] = [:]
        let decoder = RestoreEvent.decoder()
        for event in events {
            guard let id = RestoreEvent.restore(inStream: event.stream), let kind = RestoreEvent.Kind(rawValue: event.type) else {
                continue
            }
            let data = Data(event.data.utf8)
            var row = restores[id] ?? RestoreRow()
            switch kind {
            case .requested:
                guard let requested = try? decoder.decode(RestoreEvent.Requested.self, from: data) else { continue }
                row.what = requested.what.rawValue
                row.actor = (try? event.metadata())?.actor
                row.reasonGiven = requested.reason
                row.repositoryID = requested.repositoryId
                row.repositoryName = requested.repositoryName
                row.serverID = requested.target?.serverId
                row.server = requested.target?.serverName
                row.folder = requested.target?.folderPath ?? requested.guestFiles?.folder
                row.datastore = requested.target?.datastoreName
                row.state = "running"
                row.requestedAt = event.recordedAt
                for machine in requested.vms {
                    machines[id, default: [:]][machine.vmId] = MachineRow(
                        name: machine.vmName, point: machine.restorePointId, targetName: machine.targetName,
                        pointCreatedAt: machine.pointCreatedAt,
                        files: requested.guestFiles?.paths ?? machine.disks.compactMap(\.path), disks: Int64(machine.disks.count))
                }
            case .targetPrepared:
                guard let prepared = try? decoder.decode(RestoreEvent.TargetPrepared.self, from: data) else { continue }
                var machine = machines[id]?[prepared.vmId] ?? MachineRow()
                machine.targetID = prepared.targetVmId
                machine.targetVMName = prepared.targetVmName
                machine.adopted = prepared.adopted
                machines[id, default: [:]][prepared.vmId] = machine
            case .poweredOn:
                guard let power = try? decoder.decode(RestoreEvent.Power.self, from: data) else { continue }
                var machine = machines[id]?[power.vmId] ?? MachineRow()
                machine.poweredOn = true
                machines[id, default: [:]][power.vmId] = machine
            case .diskCheckpointed, .diskFinished:
                // Running figures: the sums are the finish's; until then the restore shows as running.
                continue
            case .finished:
                guard let finished = try? decoder.decode(RestoreEvent.Finished.self, from: data) else { continue }
                row.state = "finished"
                row.result = finished.result.rawValue
                row.reason = finished.reason
                row.finishedAt = event.recordedAt
                row.read = finished.readBytes
                row.written = finished.writtenBytes
                row.skipped = finished.skippedBytes
                row.duration = finished.durationSeconds
                row.rate = finished.bytesPerSecond
                row.bottleneck = finished.bottleneck
            case .throttleApplied:
                guard let throttle = try? decoder.decode(RestoreEvent.ThrottleApplied.self, from: data) else { continue }
                row.throttleRule = throttle.ruleName
                row.throttleRate = throttle.bytesPerSecond
            case .filesCopied:
                guard let copied = try? decoder.decode(RestoreEvent.FilesCopied.self, from: data) else { continue }
                row.filesRestored = Int64(copied.files)
            case .targetRequested, .diskStarted, .overlayApplied, .powerOnRequested, .powerOffRequested, .poweredOff:
                continue
            }
            restores[id] = row
        }

        var restoreRows = RowBatch()
        for (id, row) in restores.sorted(by: { $0.key < $1.key }) {
            restoreRows.append([
                "restore_id": .text(id), "what": .text(row.what), "actor": .text(row.actor), "reason_given": .text(row.reasonGiven),
                "repository_id": .text(row.repositoryID), "repository_name": .text(row.repositoryName),
                "target_server_id": .text(row.serverID), "target_server": .text(row.server), "target_folder": .text(row.folder),
                "target_datastore": .text(row.datastore), "state": .text(row.state), "result": .text(row.result),
                "reason": .text(row.reason), "requested_at": .time(row.requestedAt), "finished_at": .time(row.finishedAt),
                "read_bytes": .integer(row.read), "written_bytes": .integer(row.written), "skipped_bytes": .integer(row.skipped),
                "duration_seconds": .double(row.duration), "bytes_per_second": .integer(row.rate), "bottleneck": .text(row.bottleneck),
                "throttle_rule": .text(row.throttleRule), "throttle_bytes_per_second": .integer(row.throttleRate),
                "files_restored": .integer(row.filesRestored),
            ])
        }
        try Self.restoresUpsert.write(restoreRows, in: schema, on: connection)

        var machineRows = RowBatch()
        for (id, rows) in machines.sorted(by: { $0.key < $1.key }) {
            for (vm, row) in rows.sorted(by: { $0.key < $1.key }) {
                machineRows.append([
                    "restore_id": .text(id), "vm_id": .text(vm), "vm_name": .text(row.name), "restore_point_id": .text(row.point),
                    "point_created_at": .time(row.pointCreatedAt), "target_name": .text(row.targetName),
                    "target_vm_id": .text(row.targetID), "target_vm_name": .text(row.targetVMName), "adopted": .bool(row.adopted),
                    "files": .texts(row.files), "disks": .integer(row.disks), "powered_on": .bool(row.poweredOn),
                ])
            }
        }
        try Self.machinesUpsert.write(machineRows, in: schema, on: connection)
    }
}
