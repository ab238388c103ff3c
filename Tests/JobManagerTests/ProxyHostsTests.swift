import Foundation
import JobManager
import NetworkHosts
import TestSupport
import Testing

/// Proxies on other hosts: network namespaces joined by veth pairs stand for the hosts. The
/// database and the Job Manager are here; each proxy process runs in a namespace of its own
/// and reaches the database over TCP on its link only; the lab and the repository are on the
/// shared file system.
@Suite("Proxies on other hosts", .serialized, .tags(.crash), .enabled(if: NetworkNamespaces.available, "needs root and ip(8)"))
struct ProxyHostsTests {
    /// Two hosts, a cluster listening on their links, a world whose catalog is in it.
    static func hosts(vms: Int, diskSize: Int64, throttle: Int64? = nil) async throws -> (NetworkNamespaces, NamespaceCluster, ProxyWorld) {
        let hosts = try NetworkNamespaces(count: 2)
        let cluster = try NamespaceCluster(listeningOn: hosts.hosts.map(\.gateway), networks: hosts.hosts.map(\.network))
        let world = try await ProxyWorld.make(vms: vms, diskSize: diskSize, throttle: throttle, cluster: cluster.administrator)
        return (hosts, cluster, world)
    }

    static func start(
        _ name: String, on host: NetworkNamespaces.Host, of hosts: NetworkNamespaces, cluster: NamespaceCluster, world: ProxyWorld,
        lease: Double = 1.5, maxTasks: Int? = nil
    ) async throws
        -> RunningTidemark
    {
        try await world.startProxy(
            name, lease: lease, maxTasks: maxTasks, wrapper: hosts.wrapper(for: host),
            databaseURL: cluster.serviceURL(database: world.environment.database.name, address: host.gateway, user: "tidemark_proxy"))
    }

    @Test("8 VMs over two proxies on two hosts, within their task limits; every disk restores byte-identical")
    func spreadOverHosts() async throws {
        let (hosts, cluster, world) = try await Self.hosts(vms: 8, diskSize: 4 << 20, throttle: 8 << 20)
        defer { world.environment.remove() }
        let first = try await Self.start("proxy-1", on: hosts.hosts[0], of: hosts, cluster: cluster, world: world)
        let second = try await Self.start("proxy-2", on: hosts.hosts[1], of: hosts, cluster: cluster, world: world)
        let manager = world.manager()
        let session = try await manager.begin(job: world.environment.jobName, trigger: "manual")
        let report = try await manager.run(session: session)
        #expect(report.finished.result == .success, "\(report.finished)")
        let events = try await world.checkDone(session, tasks: 8)
        #expect(events.filter { $0.type == "TaskAssigned" }.count == 8)
        let peak = ProxyProcessTests.peakLoad(events)
        #expect(peak["proxy-1"] != nil && peak["proxy-2"] != nil && peak["proxy-1"]! <= 2 && peak["proxy-2"]! <= 1, "\(peak)")
        // Each process logs a task's end after reporting it: the session can finish first.
        #expect(try await first.waitFor("task finished", seconds: 30))
        #expect(try await second.waitFor("task finished", seconds: 30))
        withExtendedLifetime((hosts, cluster)) {}
    }

    @Test(
        "a proxy cut off from the network loses its lease: it stops its tasks itself, they finish elsewhere, and it registers again once back"
    )
    func cutOff() async throws {
        let (hosts, cluster, world) = try await Self.hosts(vms: 2, diskSize: 16 << 20, throttle: 2 << 20)
        defer { world.environment.remove() }
        let isolated = try await Self.start("proxy-1", on: hosts.hosts[0], of: hosts, cluster: cluster, world: world, maxTasks: 2)
        let manager = world.manager()
        let session = try await manager.begin(job: world.environment.jobName, trigger: "manual")
        let run = Task { try await manager.run(session: session) }
        var cut = false
        for _ in 0..<600 where !cut {
            if try await world.events(of: session).contains(where: {
                $0.type == "TransferCheckpointed" && (($0.data["offset"] as? NSNumber)?.int64Value ?? 0) > 0
            }) {
                try hosts.setLink(of: hosts.hosts[0], up: false)
                cut = true
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(cut)
        // The other host's proxy takes the tasks over; the cut one keeps writing the shared
        // repository until its own lease check stops it, and is refused.
        let rescuer = try await Self.start("proxy-2", on: hosts.hosts[1], of: hosts, cluster: cluster, world: world, maxTasks: 2)
        let report = try await run.value
        #expect(report.finished.result == .success, "\(report.finished)")
        let events = try await world.checkDone(session, tasks: 2)
        #expect(events.contains { $0.type == "TaskReassigned" && ($0.data["reason"] as? String ?? "").contains("stopped heartbeating") })
        #expect(try await isolated.waitFor("lease lost", seconds: 30), "\(isolated.output)")
        // The process logs a task's end after reporting it: the session can finish first.
        #expect(try await rescuer.waitFor("task finished", seconds: 30), "\(rescuer.output)")
        #expect(try await world.processEvents("ProxyProcessLost").count == 1)
        // Back on the network it registers again, as a new process.
        try hosts.setLink(of: hosts.hosts[0], up: true)
        for _ in 0..<200 {
            if try await world.processEvents("ProxyProcessStarted").count >= 3 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(try await world.processEvents("ProxyProcessStarted").count == 3, "\(isolated.output)")
        withExtendedLifetime((hosts, cluster)) {}
    }
}
