import ArgumentParser
import BlockingIO
import Catalog
import CatalogStore
import CommandLineSupport
import EventStore
import Foundation
import Infrastructure
import JobManager
import Logging
import NetworkHosts
import Postgres
import Secrets
import Synchronization
import WorkflowEvents

/// `tidemark bench proxies`: proxies as processes beside the embedded data mover, on the same
/// lab in the same run — orchestration overhead per VM, one proxy's throughput, and how soon a
/// dead proxy's tasks run elsewhere.
struct BenchProxiesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxies",
        abstract:
            "Proxy processes against the embedded data mover: overhead per VM with two proxies, one proxy's throughput, time from a proxy's death to its tasks running elsewhere."
    )
    @OptionGroup var options: GlobalOptions
    @Option(help: "Small lab VMs (one 1 MiB disk each) of the overhead case.") var vms: Int = 200
    @Option(help: "Size of each of the 4 disks of the throughput case, in MiB.") var diskMib: Int = 256
    @Option(help: "The proxies' lease, in seconds (their heartbeat is a fifth of it).") var lease: Double = 3
    @Option(
        help:
            "Where the proxy processes run: 'local' (this host) or 'namespace' (a network namespace of their own that reaches the database over a veth link, as another host would; needs root and ip)."
    ) var proxyHost: ProxyHost = .local

    enum ProxyHost: String, ExpressibleByArgument, CaseIterable {
        case local, namespace
    }
    @Flag(help: "Print {\"cases\":[...]} instead of a table.") var json = false

    func validate() throws {
        guard (2...5_000).contains(vms) else { throw ValidationError("--vms must be between 2 and 5000, not \(vms)") }
        guard (64...4_096).contains(diskMib) else { throw ValidationError("--disk-mib must be between 64 and 4096, not \(diskMib)") }
        guard (1...60).contains(lease) else { throw ValidationError("--lease must be between 1 and 60 seconds, not \(lease)") }
    }

    /// One world: a lab, two repositories (the embedded run and the proxies' run each back up
    /// into a fresh one, so both are full backups of the same data), two proxies, two jobs.
    struct World {
        let store: EventStore
        let bench: BenchDatabase
        let folder: URL
        /// How the proxy processes are started and reach the database.
        let placement: ProxyPlacement
    }

    /// On this host (the database through its Unix socket), or in a network namespace (the
    /// database through a relay on this side of the veth link).
    struct ProxyPlacement {
        var wrapper: [String] = []
        var databaseURL: String
        var note: String
    }

    func run() async throws {
        var logger = try options.makeLogger()
        logger.logLevel = max(logger.logLevel, .error)
        let catalogDatabase = try CatalogDatabase(options: options, logger: logger)
        let bench = try await BenchDatabase.create(catalog: catalogDatabase, logger: logger)
        let store = EventStore(pool: PostgresPool(.init(settings: bench.service, maximumConnections: 8), logger: logger), logger: logger)
        var placement = ProxyPlacement(
            databaseURL: bench.proxyLogin.keywordConnectionString,
            note:
                "the processes run on this machine and reach the repository and the lab through the file system, as a proxy on NFS would; the database carries only orders and reports"
        )
        var hosts: NetworkNamespaces?, relay: SocketRelay?
        if proxyHost == .namespace {
            guard NetworkNamespaces.available else {
                throw ValidationError("--proxy-host namespace makes a network namespace: run it as root on a machine with 'ip' (iproute2)")
            }
            guard let cluster = catalogDatabase.privateCluster else {
                throw ValidationError("--proxy-host namespace relays to the private cluster's socket: run it without --database-url")
            }
            let made = try NetworkNamespaces(count: 1)
            let host = made.hosts[0]
            let relaying = try SocketRelay(listenOn: host.gateway, to: cluster.socketDirectory.appendingPathComponent(".s.PGSQL.5432").path)
            hosts = made
            relay = relaying
            placement = ProxyPlacement(
                wrapper: made.wrapper(for: host),
                databaseURL: "host=\(host.gateway) port=\(relaying.port) dbname=\(BenchDatabase.name) user=tidemark_proxy",
                note:
                    "the processes run in network namespace \(host.namespace) and reach the database over its veth link (\(host.address) → \(host.gateway)), the repository and the lab through the shared file system, as a proxy on NFS would"
            )
        }
        defer {
            relay?.stop()
            withExtendedLifetime(hosts) {}
        }
        return try await withClosing(store) { _ in
            let folder = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent(
                "tidemark-bench-proxies-\(UUID().uuidString.prefix(8))")
            defer { try? FileManager.default.removeItem(at: folder) }
            let world = World(store: store, bench: bench, folder: folder, placement: placement)
            let small = try await setUp(world, name: "small", vms: vms, diskSize: 1 << 20, slots: 4)
            let large = try await setUp(world, name: "large", vms: 4, diskSize: Int64(diskMib) << 20, slots: 2)
            // Checkpoints every 8 MiB, the same for the embedded mover and the processes.
            let manager = JobManager(store: store, settings: JobManagerSettings(checkpointBytes: 8 << 20), logger: logger)

            // Embedded: no process runs any proxy.
            let embeddedSmall = try await timed(manager, job: small.embeddedJob)
            let embeddedLarge = try await timed(manager, job: large.embeddedJob)
            // Two proxy processes on this machine.
            let processes = try ["small-proxy-1", "small-proxy-2", "large-proxy-1"].map { try startProxy($0, world) }
            defer { for process in processes where process.isRunning { process.terminate() } }
            try await waitForLive(3, world)
            let proxiedSmall = try await timed(manager, job: small.proxiedJob)
            let proxiedLarge = try await timed(manager, job: large.proxiedJob)
            let failover = try await measureFailover(world, manager: manager, doomed: processes[2])

            let overhead = { (run: (wall: Double, report: SessionReport, cpu: Double), slots: Int) in
                max(0, run.wall - run.report.transferSeconds / Double(slots)) / Double(vms) * 1_000
            }
            let bytes = Double(4 * (Int64(diskMib) << 20))
            BenchReport.print(
                [
                    BenchCase(
                        name: "orchestration overhead per VM, 2 proxy processes", value: overhead(proxiedSmall, 4), unit: "ms",
                        reference: overhead(embeddedSmall, 4)),
                    BenchCase(
                        name: "session time per VM, 2 proxy processes", value: proxiedSmall.wall / Double(vms) * 1_000, unit: "ms",
                        reference: embeddedSmall.wall / Double(vms) * 1_000),
                    BenchCase(
                        name: "Job Manager CPU per VM, 2 proxy processes", value: proxiedSmall.cpu / Double(vms) * 1_000, unit: "ms",
                        reference: embeddedSmall.cpu / Double(vms) * 1_000),
                    BenchCase(
                        name: "throughput, one proxy process", value: bytes / proxiedLarge.wall / 1e6, unit: "MB/s",
                        reference: bytes / embeddedLarge.wall / 1e6),
                    BenchCase(name: "proxy killed → its task assigned elsewhere", value: failover, unit: "s", reference: lease),
                ],
                json: json,
                notes: [
                    "overhead case: \(vms) VMs × one 1 MiB disk, 4 repository slots; reference: the same job with the embedded data mover (no proxy process), same run",
                    "overhead = (session wall − data mover time / slots) / VMs, as in bench jobs",
                    "Job Manager CPU: user + system time of this process (the Job Manager; with the embedded mover, also the data's hashing, compression and writes) per VM; PostgreSQL's and the proxy processes' CPU are not in it",
                    "throughput case: 4 VMs × \(diskMib) MiB, full backups into fresh repositories, 2 slots; reference: the embedded mover on the same data",
                    placement.note,
                    "failover: a proxy SIGKILLed once its task checkpointed; value: kill → the task's next TaskAssigned; reference: the lease (target: < 2× it)",
                ])
        }
    }

    struct Jobs {
        let embeddedJob: String
        let proxiedJob: String
    }

    /// A lab, two repositories and two jobs over its VMs (the first uses an embedded proxy, the
    /// second the proxies of `name`), and the proxies.
    private func setUp(_ world: World, name: String, vms: Int, diskSize: Int64, slots: Int) async throws -> Jobs {
        let lab = try LabAdapter.create(
            at: world.folder.appendingPathComponent("lab-\(name)").path, vms: vms, disksPerVM: 1, diskSize: diskSize)
        let names = try await lab.inventory().virtualMachines.map(\.name).sorted()
        var made: [ProxyIdentity] = []
        for proxy in ["\(name)-proxy-1", "\(name)-proxy-2"] {
            let path = keyFile(proxy, world)
            made.append(try await BlockingIOPool.shared.run { () throws(SecretError) in try ProxyIdentity.load(orCreateAt: path).identity })
        }
        let keys = made
        try await CatalogStore(events: world.store).execute(metadata: EventMetadata(actor: "bench")) { start throws(CatalogError) in
            var plan = CatalogPlan(start)
            try plan.add(ManagedServer(name: "lab-\(name)", platform: .lab, folder: lab.root))
            try plan.add(ProxyDefinition(name: "\(name)-embedded", maxConcurrentTasks: slots))
            // The processes' hosts are enrolled, as an administrator would.
            try plan.add(ProxyDefinition(name: "\(name)-proxy-1", maxConcurrentTasks: slots, enrolledKey: keys[0].publicKeyText))
            try plan.add(ProxyDefinition(name: "\(name)-proxy-2", maxConcurrentTasks: slots, enrolledKey: keys[1].publicKeyText))
            // The large lab's second proxy runs only for the failover job: its throughput job
            // names one proxy, so one process moves all of it.
            var jobs = [("embedded", ["\(name)-embedded"]), ("proxied", ["\(name)-proxy-1", "\(name)-proxy-2"])]
            if name == "large" {
                jobs = [
                    ("embedded", ["large-embedded"]), ("proxied", ["large-proxy-1"]), ("failover", ["large-proxy-1", "large-proxy-2"]),
                ]
            }
            for (job, proxies) in jobs {
                try plan.add(
                    RepositoryDefinition(
                        name: "\(name)-\(job)", path: world.folder.appendingPathComponent("repo-\(name)-\(job)").path,
                        maxConcurrentTasks: slots, freeSpaceThresholdPercent: 0))
                var settings = JobSettings()
                settings.name = "\(name)-\(job)"
                settings.server = "lab-\(name)"
                settings.repository = "\(name)-\(job)"
                settings.objects = names.map { "vm:\($0)" }
                settings.proxies = proxies
                settings.timeZone = "UTC"
                try plan.add(try settings.definition(base: nil, in: plan.state, defaultTimeZone: "UTC"))
            }
            return plan.changes
        }
        return Jobs(embeddedJob: "\(name)-embedded", proxiedJob: "\(name)-proxied")
    }

    /// A session of `job`: its wall time, its report, and the CPU time this process (the Job
    /// Manager, and the embedded data mover when no process runs the job's proxies) spent on it.
    private func timed(_ manager: JobManager, job: String) async throws -> (wall: Double, report: SessionReport, cpu: Double) {
        let clock = ContinuousClock()
        let session = try await manager.begin(job: job, trigger: .manual)
        let start = clock.now, cpuBefore = Self.processCPUSeconds()
        let report = try await manager.run(session: session)
        guard report.finished.result == .success else {
            throw ValidationError("the bench session of \(job) ended \(report.finished.result): \(report.finished.reason ?? "")")
        }
        return ((clock.now - start).seconds, report, Self.processCPUSeconds() - cpuBefore)
    }

    /// User and system CPU seconds of this process so far.
    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    private func keyFile(_ proxy: String, _ world: World) -> String {
        world.folder.appendingPathComponent("keys/\(proxy).key").path
    }

    private func startProxy(_ name: String, _ world: World) throws -> Process {
        let process = Process()
        let command = [
            "proxy", "run", name, "--database-url", world.placement.databaseURL, "--key-file", keyFile(name, world),
            "--lease-seconds", "\(lease)", "--heartbeat-seconds", "\(lease / 5)",
        ]
        if let launcher = world.placement.wrapper.first {
            process.executableURL = URL(fileURLWithPath: launcher)
            process.arguments = Array(world.placement.wrapper.dropFirst()) + [RunningProgram.url.path] + command
        } else {
            process.executableURL = RunningProgram.url
            process.arguments = command
        }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    private func waitForLive(_ count: Int, _ world: World) async throws {
        let fleet = ProxyFleet(store: world.store)
        let enrolled = try await CatalogStore(events: world.store).load().proxies.compactMapValues(\.definition.enrolledKey)
        for _ in 0..<600 {
            let live = try await fleet.presence(enrolledKeys: enrolled).values.filter {
                if case .live = $0 { return true } else { return false }
            }
            if live.count >= count { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ValidationError("the bench's proxy processes did not register within 30 s")
    }

    /// Runs the failover job (large-proxy-1 and large-proxy-2), SIGKILLs large-proxy-1 once a
    /// task it holds has checkpointed, and times the kill to that task's next assignment.
    private func measureFailover(_ world: World, manager: JobManager, doomed: Process) async throws -> Double {
        let spare = try startProxy("large-proxy-2", world)
        defer { if spare.isRunning { spare.terminate() } }
        try await waitForLive(4, world)
        let session = try await manager.begin(job: "large-failover", trigger: .manual)
        let finished = Mutex(false)
        let run = Task {
            defer { finished.withLock { $0 = true } }
            return try await manager.run(session: session)
        }
        let stream = try StreamName(SessionEvent.stream(of: session))
        let clock = ContinuousClock()
        var killedAt: ContinuousClock.Instant?
        var victim: String?
        var elapsed: Double?
        let decoder = SessionEvent.decoder()
        let started = clock.now
        while elapsed == nil, clock.now - started < .seconds(600) {
            if killedAt == nil, finished.withLock({ $0 }) { break }
            let events = try await world.store.readStream(stream, limit: 100_000)
            if killedAt == nil {
                let held = Set(
                    events.filter { $0.type == SessionEvent.Kind.taskAssigned.rawValue }
                        .compactMap { try? decoder.decode(SessionEvent.TaskAssigned.self, from: Data($0.data.utf8)) }
                        .filter { $0.proxyName == "large-proxy-1" }.map(\.taskId))
                let checkpointed = events.filter { $0.type == SessionEvent.Kind.transferCheckpointed.rawValue }
                    .compactMap { try? decoder.decode(SessionEvent.TransferProgress.self, from: Data($0.data.utf8)) }
                    .first { held.contains($0.taskId) && $0.offset > 0 }
                if let checkpointed {
                    kill(doomed.processIdentifier, SIGKILL)
                    killedAt = clock.now
                    victim = checkpointed.taskId
                }
            } else if let killedAt, let victim {
                let moved = events.filter { $0.type == SessionEvent.Kind.taskAssigned.rawValue }
                    .compactMap { try? decoder.decode(SessionEvent.TaskAssigned.self, from: Data($0.data.utf8)) }
                    .contains { $0.taskId == victim && $0.proxyName == "large-proxy-2" }
                if moved { elapsed = (clock.now - killedAt).seconds }
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        let report = try await run.value
        guard report.finished.result == .success, let elapsed else {
            throw ValidationError(
                "the failover session ended \(report.finished.result) without a task moving: its disks went by before a checkpoint (give a larger --disk-mib)"
            )
        }
        return elapsed
    }
}
