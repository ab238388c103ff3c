import Crypto
import DataMover
import EventStore
import Foundation
import Infrastructure
import Repository

/// One backup session of every lab VM into a repository, each step recorded as an event on
/// the session's stream — the README's main job until the Job Manager takes it over (its
/// event types are provisional: the Job Manager issue defines the lasting catalogue).
///
/// A VM backed up before gets an incremental: the lab's changed areas since the previous
/// snapshot's change id decide which blocks are read.
struct DemoSession {
    let store: EventStore
    let lab: LabAdapter
    let repository: BackupRepository
    let sessionID: UUID
    let stream: StreamName
    private var shortID: String { String(sessionID.uuidString.lowercased().prefix(8)) }

    init(store: EventStore, lab: LabAdapter, repository: BackupRepository) throws {
        self.store = store
        self.lab = lab
        self.repository = repository
        sessionID = UUID()
        stream = try StreamName("session-\(sessionID.uuidString.lowercased())")
    }

    struct RestorePointRecord: Codable {
        let vm: String
        let restorePoint: String
        let snapshotChangeID: String
        let disks: [String]

        enum CodingKeys: String, CodingKey {
            case vm
            case restorePoint = "restore_point"
            case snapshotChangeID = "snapshot_change_id"
            case disks
        }
    }

    struct Totals {
        var processed: Int64 = 0
        var read: Int64 = 0
        var transferred: Int64 = 0
        var times = StageTimes()
        var restorePoints: [String] = []
    }

    func record(_ type: String, _ fields: [String: any Sendable]) async throws {
        let data = try JSONSerialization.data(withJSONObject: fields.mapValues { $0 as Any }, options: [.sortedKeys])
        let event = try NewEvent(
            type: type, jsonData: String(decoding: data, as: UTF8.self),
            metadata: EventMetadata(correlationID: sessionID, actor: "cli:demo", host: ProcessInfo.processInfo.hostName))
        try await store.append(to: stream, events: [event])
    }

    /// The last restore point recorded for each VM by earlier sessions (the session streams
    /// only, not the whole log).
    func previousRestorePoints() async throws -> [String: RestorePointRecord] {
        var latest: [String: RestorePointRecord] = [:]
        var position: Int64 = 0
        while true {
            let batch = try await store.readCategory("session", after: position)
            guard let last = batch.last else { return latest }
            for event in batch where event.type == "RestorePointCreated" {
                if let record = try? event.decode(RestorePointRecord.self) { latest[record.vm] = record }
            }
            position = last.position
        }
    }

    /// Runs the session; returns the totals and, for the first VM, the SHA-256 of its first
    /// disk as the snapshot held it (to check a restore against).
    func run() async throws -> (Totals, (restorePoint: String, disk: String, sha256: String)?) {
        let started = ContinuousClock.now
        let inventory = try await lab.inventory()
        let machines = inventory.virtualMachines.sorted { $0.name < $1.name }
        try await record("SessionStarted", ["job": "demo", "trigger": "manual", "session": sessionID.uuidString.lowercased()])
        try await record("ObjectsEnumerated", ["vms": machines.map(\.name), "order": "by name"])
        try repository.checkWritable()
        try await record("RepositoryChecked", ["repository": repository.root.path, "writable": true])
        let previous = try await previousRestorePoints()
        var totals = Totals()
        var check: (restorePoint: String, disk: String, sha256: String)?
        for machine in machines {
            let name = "tidemark-\(shortID)-\(machine.id)"
            try await record("SnapshotRequested", ["vm": machine.id, "name": name, "quiesce": false])
            let snapshot = try await lab.createSnapshot(vm: machine.id, name: name, description: "Tidemark demo session", quiesce: false)
            try await record("SnapshotCreated", ["vm": machine.id, "snapshot": snapshot.id, "change_id": snapshot.changeID])
            let restorePoint = "\(machine.id)-\(shortID)"
            var disks: [String] = []
            for disk in machine.disks {
                let diskName = "disk-\(disk.key)"
                let source = try await lab.openDisk(vm: machine.id, snapshot: snapshot.id, diskKey: disk.key)
                var transfer = DiskTransfer(repository: repository, restorePoint: restorePoint, disk: diskName, source: source)
                var mode = "full"
                if let before = previous[machine.id], before.disks.contains(diskName),
                    let base = try? repository.manifest(restorePoint: before.restorePoint, disk: diskName),
                    let areas = try await lab.changedAreas(
                        vm: machine.id, snapshot: snapshot.id, diskKey: disk.key, since: before.snapshotChangeID)
                {
                    transfer.changedBlocks = (base, DiskTransfer.blocks(touchedBy: areas, blockSize: transfer.blockSize))
                    mode = "incremental, changed blocks only"
                }
                try await record("TransferStarted", ["vm": machine.id, "disk": diskName, "restore_point": restorePoint, "mode": mode])
                let outcome = try await transfer.run { progress in
                    try await record(
                        "TransferCheckpointed",
                        ["vm": machine.id, "disk": diskName, "offset": progress.offset, "bytes_read": progress.bytesRead,
                         "bytes_transferred": progress.bytesTransferred, "new_chunks": progress.newChunks])
                }
                try await record(
                    "TransferFinished",
                    ["vm": machine.id, "disk": diskName, "bytes_read": outcome.progress.bytesRead,
                     "bytes_transferred": outcome.progress.bytesTransferred, "new_chunks": outcome.progress.newChunks,
                     "unchanged_blocks": outcome.unchangedBlocks, "bottleneck": outcome.stageTimes.bottleneck])
                if check == nil {
                    check = (restorePoint, diskName, try Self.sha256(of: source))
                }
                totals.processed += source.size
                totals.read += outcome.progress.bytesRead
                totals.transferred += outcome.progress.bytesTransferred
                totals.times.add(outcome.stageTimes)
                disks.append(diskName)
            }
            try await lab.removeSnapshot(vm: machine.id, snapshot: snapshot.id)
            try await record("SnapshotRemoved", ["vm": machine.id, "snapshot": snapshot.id])
            let created = RestorePointRecord(vm: machine.id, restorePoint: restorePoint, snapshotChangeID: snapshot.changeID, disks: disks)
            try await store.append(
                to: stream,
                events: [try NewEvent(type: "RestorePointCreated", payload: created, metadata: EventMetadata(correlationID: sessionID, actor: "cli:demo"))])
            totals.restorePoints.append(restorePoint)
        }
        let seconds = (ContinuousClock.now - started).seconds
        try await record(
            "SessionFinished",
            ["result": "Success", "processed_bytes": totals.processed, "read_bytes": totals.read,
             "transferred_bytes": totals.transferred, "duration_seconds": seconds, "bottleneck": totals.times.bottleneck])
        return (totals, check)
    }

    static func sha256(of source: any BlockSource) throws -> String {
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: Int64 = 0
        while offset < source.size {
            let length = Int(min(Int64(buffer.count), source.size - offset))
            try buffer.withUnsafeMutableBytes { try source.read(at: offset, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<length])) }
            hasher.update(data: buffer[0..<length])
            offset += Int64(length)
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
