import Catalog
import EventStore
import Foundation
import Infrastructure
import WorkflowEvents

/// A realistic, reproducible history for benchmarks and tests: a catalog that changes over
/// time and backup sessions with tasks, checkpoints, retries, failures, restore points and
/// retention — written through the same decider and event types as the real thing.
public struct SyntheticHistory: Sendable {
    /// One append: a stream and its next events.
    public struct Append: Sendable {
        public let stream: StreamName
        public let events: [NewEvent]
    }

    public var jobs: Int
    public var vmsPerJob: Int
    public var checkpointsPerDisk: Int
    private var random: SeededRandom
    private var catalog = CatalogState()
    private var position: Int64 = 0
    private var versions: [String: Int64] = [:]
    private var restorePoints: [String: [String]] = [:]
    private var sessionCount = 0

    public init(seed: UInt64 = 42, jobs: Int = 20, vmsPerJob: Int = 8, checkpointsPerDisk: Int = 8) {
        self.random = SeededRandom(seed: seed)
        self.jobs = jobs
        self.vmsPerJob = vmsPerJob
        self.checkpointsPerDisk = checkpointsPerDisk
    }

    private let metadata = EventMetadata(actor: "bench:synthetic")

    /// The catalog: a lab, two repositories, four proxies, a throttling rule and the jobs,
    /// some chained, then a round of edits (renames, switches, updates) and one removal.
    public mutating func catalogAppends() throws -> [Append] {
        var appends: [Append] = []
        func commit(_ changes: [CatalogChange]) throws {
            for change in changes {
                let event = try NewEvent(type: change.eventType, jsonData: change.data, metadata: metadata)
                appends.append(Append(stream: try StreamName(change.stream), events: [event]))
                position += 1
                let version = (versions[change.stream] ?? 0) + 1
                versions[change.stream] = version
                catalog.apply(
                    CatalogEventRecord(
                        stream: change.stream, streamVersion: version, position: position, type: change.eventType, data: change.data,
                        recordedAt: Date(timeIntervalSince1970: Double(position)), actor: metadata.actor))
            }
        }
        func id() -> UUIDString { random.uuid() }
        let server = id()
        try commit(try CatalogDecider.add(ManagedServer(name: "lab", platform: .lab, folder: "/srv/lab"), id: server, in: catalog))
        let repositories = [id(), id()]
        for (index, repository) in repositories.enumerated() {
            try commit(
                try CatalogDecider.add(
                    RepositoryDefinition(
                        name: "repo-\(index + 1)", path: "/srv/backups/\(index + 1)", maxConcurrentTasks: 8, site: index == 0 ? "hq" : "dr"),
                    id: repository, in: catalog))
        }
        var proxies: [UUIDString] = []
        for index in 0..<4 {
            let proxy = id()
            proxies.append(proxy)
            let modes: [ProxyDefinition.TransportMode] =
                index == 0 ? [.directStorage, .network] : index == 1 ? [.hotAdd, .network] : [.network]
            try commit(
                try CatalogDecider.add(
                    ProxyDefinition(
                        name: "proxy-\(index + 1)", site: index < 2 ? "hq" : "dr", transportModes: modes, maxConcurrentTasks: 4,
                        datastores: index == 0 ? ["ds-1", "ds-2"] : [], host: index == 1 ? "esx-01" : nil),
                    id: proxy, in: catalog))
        }
        try commit(
            try CatalogDecider.add(
                ThrottlingRule(
                    name: "to-dr", sourceSites: ["hq"], targetRepositories: [repositories[1]], bytesPerSecond: 50_000_000,
                    window: try TimeWindow(parsing: "08:00-18:00")),
                id: id(), in: catalog))
        var jobIDs: [UUIDString] = []
        for index in 0..<jobs {
            let job = id()
            let schedule: Schedule =
                index > 0 && index % 5 == 0
                ? .after(job: jobIDs[index - 1])
                : .daily(times: [try TimeOfDay(hour: 18 + index % 6, minute: (index * 7) % 60)], days: Set(Weekday.allCases))
            let definition = JobDefinition(
                name: "job-\(index + 1)", server: server,
                objects: (0..<vmsPerJob).map { try! ObjectSelector(parsing: "vm:vm-\(index + 1)-\($0 + 1)") },
                repository: repositories[index % 2], proxies: index % 3 == 0 ? [] : [proxies[index % 4]], schedule: schedule,
                timeZone: "Europe/Berlin")
            try commit(try CatalogDecider.add(definition, id: job, in: catalog))
            jobIDs.append(job)
        }
        for (index, job) in jobIDs.enumerated() where index % 4 == 1 {
            try commit(
                try CatalogDecider.update(id: job, basedOn: nil, in: catalog) { (definition: inout JobDefinition) in
                    definition.description = "edited by the synthetic history"
                    definition.retention = JobRetention(count: 14, unit: .days)
                })
        }
        if jobIDs.count > 2 {
            try commit(
                try CatalogDecider.update(id: jobIDs[2], basedOn: nil, in: catalog) { (definition: inout JobDefinition) in
                    definition.name = "job-3-renamed"
                    definition.enabled = false
                })
            let last = jobIDs.removeLast()
            if catalog.referrers(of: last).isEmpty {
                try commit(try CatalogDecider.remove(JobDefinition.self, id: last, in: catalog))
            } else {
                jobIDs.append(last)
            }
        }
        try commit(
            try CatalogDecider.update(id: repositories[0], basedOn: nil, in: catalog) { (definition: inout RepositoryDefinition) in
                definition.freeSpaceThresholdPercent = 15
            })
        return appends
    }

    /// One session of a random job: every step of the Job Manager's contract, with a failed
    /// first attempt now and then, and retention once a VM has more than 7 restore points.
    public mutating func sessionAppend() throws -> Append {
        sessionCount += 1
        let jobEntries = catalog.jobs.values.sorted { $0.id < $1.id }
        guard !jobEntries.isEmpty else { throw SyntheticHistoryError(.noCatalog, "make the catalog first") }
        let job = jobEntries[random.below(jobEntries.count)]
        let session = random.uuid()
        let encoder = SessionEvent.encoder()
        var events: [NewEvent] = []
        let correlation = EventMetadata(correlationID: UUID(uuidString: session), actor: "job-manager")
        func record<T: Encodable>(_ kind: SessionEvent.Kind, _ payload: T) throws {
            let json = String(decoding: try encoder.encode(payload), as: UTF8.self)
            events.append(try NewEvent(type: kind.rawValue, jsonData: json, metadata: correlation))
        }
        let vms = job.definition.objects.map(\.value)
        try record(
            .sessionStarted,
            SessionEvent.Started(
                sessionId: session, jobId: job.id, jobName: job.definition.name, jobVersion: job.version, trigger: "scheduled"))
        try record(
            .objectsEnumerated, SessionEvent.ObjectsEnumerated(vms: vms.map { .init(id: "id-\($0)", name: $0, diskKeys: [2000, 2001]) }))
        // The contract's own payload (it was a private struct with fields the contract does not have).
        let freePercent = 40 + random.below(50)
        let capacity: Int64 = 100 << 40
        try record(
            .repositoryChecked,
            SessionEvent.RepositoryChecked(
                repositoryId: job.definition.repository,
                path: catalog.repositories[job.definition.repository]?.definition.path ?? "", online: true,
                freeBytes: capacity / 100 * Int64(freePercent), capacityBytes: capacity, freePercent: Double(freePercent),
                thresholdPercent: 10, taskLimit: 1 + random.below(4)))
        var processed: Int64 = 0, read: Int64 = 0, transferred: Int64 = 0
        var failures = 0
        let proxies = catalog.proxies.values.sorted { $0.id < $1.id }
        for vm in vms {
            let attempts = random.below(20) == 0 ? 2 : 1
            var disks: [String] = []
            for attempt in 1...attempts {
                for disk in [2000, 2001] {
                    let task = "id-\(vm)/\(disk)"
                    let size = Int64(16 + random.below(48)) << 30
                    let proxy = proxies[random.below(proxies.count)]
                    try record(
                        .proxySelected,
                        SessionEvent.ProxySelected(
                            taskId: task, proxyId: proxy.id, proxyName: proxy.definition.name,
                            transportMode: proxy.definition.transportModes[0].rawValue,
                            candidates: proxies.map {
                                .init(
                                    proxyId: $0.id, proxyName: $0.definition.name, transportMode: $0.definition.transportModes[0].rawValue,
                                    score: Double(random.below(100)), reason: "load")
                            }))
                    try record(
                        .taskStarted,
                        SessionEvent.TaskStarted(
                            taskId: task, vmId: "id-\(vm)", vmName: vm, diskKey: disk, sizeBytes: size, attempt: attempt))
                    let failsNow = attempt < attempts && disk == 2001
                    var progress = SessionEvent.TransferProgress(taskId: task, offset: 0, bytesRead: 0, bytesTransferred: 0, newChunks: 0)
                    for step in 1...checkpointsPerDisk {
                        progress.offset = size / Int64(checkpointsPerDisk) * Int64(step)
                        progress.bytesRead = progress.offset / 10
                        progress.bytesTransferred = progress.bytesRead / 3
                        progress.newChunks = progress.bytesTransferred >> 20
                        try record(step == checkpointsPerDisk && !failsNow ? .transferFinished : .transferCheckpointed, progress)
                        if failsNow && step == checkpointsPerDisk / 2 { break }
                    }
                    if failsNow {
                        try record(
                            .taskFinished,
                            SessionEvent.TaskFinished(taskId: task, result: .failed, message: "disk read failed: connection reset"))
                        failures += 1
                        continue
                    }
                    try record(.taskFinished, SessionEvent.TaskFinished(taskId: task, result: .success))
                    processed += size
                    read += progress.bytesRead
                    transferred += progress.bytesTransferred
                    if attempt == attempts { disks.append("disk-\(disk)") }
                }
            }
            let point = "rp-\(session.prefix(8))-\(vm)"
            try record(
                .restorePointCreated,
                SessionEvent.RestorePointCreated(
                    restorePointId: point, jobId: job.id, vmId: "id-\(vm)", vmName: vm, disks: disks, sizeBytes: processed))
            restorePoints[vm, default: []].append(point)
            if restorePoints[vm]!.count > 7 {
                try record(
                    .restorePointRemoved,
                    SessionEvent.RestorePointRemoved(
                        restorePointId: restorePoints[vm]!.removeFirst(), reason: "retention: 7 restore points"))
            }
        }
        let busy = SessionEvent.Busy(
            source: Double(random.below(100)), proxy: Double(random.below(100)), network: Double(random.below(100)),
            target: Double(random.below(100)))
        try record(
            .sessionFinished,
            SessionEvent.Finished(
                result: failures == 0 ? .success : .warning, processedBytes: processed, readBytes: read, transferredBytes: transferred,
                dedupeRatio: 1.5 + Double(random.below(100)) / 100, compressionRatio: 2.0 + Double(random.below(100)) / 100,
                durationSeconds: 600 + Double(random.below(3_600)) + 0.125, busy: busy, bottleneck: busy.bottleneck))
        return Append(stream: try StreamName(SessionEvent.stream(of: session)), events: events)
    }
}

/// The lab's seeded generator (SplitMix64) with what a history draws: bounded numbers and
/// UUIDs, the same on every run.
struct SeededRandom: Sendable {
    private var generator: DiskImageGenerator.Generator

    init(seed: UInt64) { generator = DiskImageGenerator.Generator(state: seed) }

    mutating func next() -> UInt64 { generator.next() }

    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(max(bound, 1))) }

    mutating func uuid() -> String {
        let a = next(), b = next()
        let hex = String(format: "%016llx%016llx", a, b)
        let chars = Array(hex)
        func part(_ range: Range<Int>) -> String { String(chars[range]) }
        return "\(part(0..<8))-\(part(8..<12))-4\(part(13..<16))-8\(part(17..<20))-\(part(20..<32))"
    }
}
