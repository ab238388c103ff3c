import Catalog
import Crypto
import DataMover
import EventStore
import Foundation
import Infrastructure
import Repository

/// One backup session of every lab VM into a repository, each step recorded on the
/// session's stream with the session events' contract (`SessionEvent`) — the README's main
/// job until the Job Manager takes it over.
///
/// A VM backed up before gets an incremental: the lab's changed areas since the previous
/// restore point's snapshot change id decide which blocks are read.
struct DemoSession {
    let store: EventStore
    let lab: LabAdapter
    let repository: BackupRepository
    let job: DemoCatalog.Job
    let sessionID: UUID
    let stream: StreamName
    private var shortID: String { String(sessionID.uuidString.lowercased().prefix(8)) }

    init(store: EventStore, lab: LabAdapter, repository: BackupRepository, job: DemoCatalog.Job) throws {
        self.store = store
        self.lab = lab
        self.repository = repository
        self.job = job
        sessionID = UUID()
        stream = try StreamName("session-\(sessionID.uuidString.lowercased())")
    }

    struct Totals {
        var processed: Int64 = 0
        var read: Int64 = 0
        var transferred: Int64 = 0
        /// Bytes of the new chunks before compression.
        var newData: Int64 = 0
        var times = StageTimes()
        /// Wall seconds times parallelism, summed over the transfers: what busy times divide by.
        var capacity: Double = 0
        var restorePoints: [String] = []
    }

    func record<Payload: Encodable>(_ kind: SessionEvent.Kind, _ payload: Payload) async throws {
        let data = String(decoding: try SessionEvent.encoder().encode(payload), as: UTF8.self)
        let event = try NewEvent(
            type: kind.rawValue, jsonData: data,
            metadata: EventMetadata(correlationID: sessionID, actor: "cli:demo", host: ProcessInfo.processInfo.hostName))
        try await store.append(to: stream, events: [event])
    }

    /// Step details the projections do not read yet (issue 5 fixes their fields).
    struct Step: Encodable {
        var vmId: String? = nil
        var taskId: String? = nil
        var name: String? = nil
        var snapshotId: String? = nil
        var changeId: String? = nil
        var restorePointId: String? = nil
        var mode: String? = nil
        var repositoryPath: String? = nil
        var writable: Bool? = nil

        enum CodingKeys: String, CodingKey {
            case vmId = "vm_id", taskId = "task_id", name, snapshotId = "snapshot_id", changeId = "change_id"
            case restorePointId = "restore_point_id", mode, repositoryPath = "repository_path", writable
        }
    }

    /// The last restore point recorded for each VM by earlier sessions (the session streams
    /// only, not the whole log).
    func previousRestorePoints() async throws -> [String: SessionEvent.RestorePointCreated] {
        var latest: [String: SessionEvent.RestorePointCreated] = [:]
        var position: Int64 = 0
        let decoder = SessionEvent.decoder()
        while true {
            let batch = try await store.readCategory(SessionEvent.category, after: position)
            guard let last = batch.last else { return latest }
            for event in batch where event.type == SessionEvent.Kind.restorePointCreated.rawValue {
                if let point = try? decoder.decode(SessionEvent.RestorePointCreated.self, from: Data(event.data.utf8)) {
                    latest[point.vmId] = point
                }
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
        let session = sessionID.uuidString.lowercased()
        try await record(.sessionStarted, SessionEvent.Started(sessionId: session, jobId: job.id, jobName: job.name, jobVersion: job.version, trigger: "manual"))
        try await record(.objectsEnumerated, SessionEvent.ObjectsEnumerated(vms: machines.map { .init(id: $0.id, name: $0.name, diskKeys: $0.disks.map(\.key)) }))
        try repository.checkWritable()
        try await record(.repositoryChecked, Step(repositoryPath: repository.root.path, writable: true))
        let previous = try await previousRestorePoints()
        var totals = Totals()
        var check: (restorePoint: String, disk: String, sha256: String)?
        var assigned = Array(repeating: 0, count: job.proxies.count)
        for machine in machines {
            let name = "tidemark-\(shortID)-\(machine.id)"
            try await record(.snapshotRequested, Step(vmId: machine.id, name: name))
            let snapshot = try await lab.createSnapshot(vm: machine.id, name: name, description: "Tidemark demo session", quiesce: false)
            try await record(.snapshotCreated, Step(vmId: machine.id, name: name, snapshotId: snapshot.id, changeId: snapshot.changeID))
            let restorePoint = "\(machine.id)-\(shortID)"
            var disks: [String] = []
            var vmSize: Int64 = 0
            for disk in machine.disks {
                let diskName = "disk-\(disk.key)"
                let task = "\(machine.id)/\(disk.key)"
                // The least-loaded proxy; every demo proxy reads over the network.
                let pick = assigned.indices.min { (assigned[$0], $0) < (assigned[$1], $1) } ?? 0
                let candidates = job.proxies.enumerated().map { index, proxy in
                    SessionEvent.ProxyCandidate(
                        proxyId: proxy.id, proxyName: proxy.name, transportMode: "network", score: Double(assigned[index]),
                        reason: "network mode, same site, \(assigned[index]) task(s) assigned")
                }
                if !job.proxies.isEmpty {
                    assigned[pick] += 1
                    try await record(.proxySelected, SessionEvent.ProxySelected(
                        taskId: task, proxyId: job.proxies[pick].id, proxyName: job.proxies[pick].name, transportMode: "network", candidates: candidates))
                }
                let source = try await lab.openDisk(vm: machine.id, snapshot: snapshot.id, diskKey: disk.key)
                try await record(.taskStarted, SessionEvent.TaskStarted(
                    taskId: task, vmId: machine.id, vmName: machine.name, diskKey: disk.key, sizeBytes: source.size, attempt: 1))
                var transfer = DiskTransfer(repository: repository, restorePoint: restorePoint, disk: diskName, source: source)
                var mode = "full"
                if let before = previous[machine.id], before.disks.contains(diskName), let changeID = before.changeId,
                    let base = try? repository.manifest(restorePoint: before.restorePointId, disk: diskName),
                    let areas = try await lab.changedAreas(vm: machine.id, snapshot: snapshot.id, diskKey: disk.key, since: changeID)
                {
                    transfer.changedBlocks = (base, DiskTransfer.blocks(touchedBy: areas, blockSize: transfer.blockSize))
                    mode = "incremental, changed blocks only"
                }
                try await record(.transferStarted, Step(taskId: task, restorePointId: restorePoint, mode: mode))
                let outcome = try await transfer.run { progress in
                    try await record(.transferCheckpointed, SessionEvent.TransferProgress(
                        taskId: task, offset: progress.offset, bytesRead: progress.bytesRead,
                        bytesTransferred: progress.bytesTransferred, newChunks: Int64(progress.newChunks)))
                }
                let done = outcome.progress
                try await record(.transferFinished, SessionEvent.TransferProgress(
                    taskId: task, offset: source.size, bytesRead: done.bytesRead, bytesTransferred: done.bytesTransferred,
                    newChunks: Int64(done.newChunks)))
                try await record(.taskFinished, SessionEvent.TaskFinished(taskId: task, result: "success"))
                if check == nil {
                    check = (restorePoint, diskName, try Self.sha256(of: source))
                }
                totals.processed += source.size
                vmSize += source.size
                totals.read += done.bytesRead
                totals.transferred += done.bytesTransferred
                totals.newData += Int64(done.newChunks) * Int64(transfer.blockSize.bytes)
                totals.times.add(outcome.stageTimes)
                totals.capacity += outcome.wallSeconds * Double(transfer.parallelism)
                disks.append(diskName)
            }
            try await lab.removeSnapshot(vm: machine.id, snapshot: snapshot.id)
            try await record(.snapshotRemoved, Step(vmId: machine.id, snapshotId: snapshot.id))
            try await record(.restorePointCreated, SessionEvent.RestorePointCreated(
                restorePointId: restorePoint, jobId: job.id, vmId: machine.id, vmName: machine.name, disks: disks, sizeBytes: vmSize,
                changeId: snapshot.changeID))
            totals.restorePoints.append(restorePoint)
        }
        let seconds = (ContinuousClock.now - started).seconds
        func percent(_ busy: Double) -> Double { totals.capacity > 0 ? min(100, (busy / totals.capacity * 1_000).rounded() / 10) : 0 }
        let busy = SessionEvent.Busy(
            source: percent(totals.times.source), proxy: percent(totals.times.proxy), network: percent(totals.times.network),
            target: percent(totals.times.target))
        func ratio(_ a: Int64, _ b: Int64) -> Double? { b > 0 ? (Double(a) / Double(b) * 100).rounded() / 100 : nil }
        try await record(.sessionFinished, SessionEvent.Finished(
            result: "success", processedBytes: totals.processed, readBytes: totals.read, transferredBytes: totals.transferred,
            dedupeRatio: ratio(totals.read, totals.newData), compressionRatio: ratio(totals.newData, totals.transferred),
            durationSeconds: (seconds * 1_000).rounded() / 1_000, busy: busy, bottleneck: busy.bottleneck))
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
