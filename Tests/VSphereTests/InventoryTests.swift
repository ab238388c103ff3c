import Catalog
import Foundation
import Infrastructure
import Testing

@testable import JobManager
@testable import VSphere

@Suite("vSphere inventory against the simulator")
struct InventoryTests {
    @Test("the enumerated inventory is what the simulator was configured with, in two page retrievals")
    func inventoryMatches() async throws {
        let simulator = try Simulator.shared()
        let adapter = try await simulator.adapter()
        let inventory = try await adapter.inventory()
        let manifest = simulator.manifest
        // Configured: 2 datacenters × (2 clusters × 2 hosts + 1 standalone host), VMs 2 per pool.
        #expect(inventory.datacenters.map(\.name).sorted() == ["DC0", "DC1"])
        #expect(inventory.clusters.map(\.name).sorted() == manifest.clusters && manifest.clusters.count == 4)
        #expect(inventory.hosts.map(\.name).sorted() == manifest.hosts && manifest.hosts.count == 10)
        #expect(inventory.hosts.filter { $0.cluster.isEmpty }.count == 2)
        #expect(inventory.tags.map(\.name).sorted() == ["tag-0", "tag-1", "tag-2"])
        #expect(Set(inventory.tags.map(\.category)) == ["tidemark-test"])
        #expect(inventory.virtualMachines.count == 12 && manifest.virtualMachines.count == 12)
        let paths = ObjectExpansion.paths(of: inventory)
        #expect(Set(paths.values) == Set(manifest.folders))
        let names = Dictionary(uniqueKeysWithValues: inventory.hosts.map { ($0.id, $0.name) })
        let clusters = Dictionary(uniqueKeysWithValues: inventory.clusters.map { ($0.id, $0.name) })
        let tags = Dictionary(uniqueKeysWithValues: inventory.tags.map { ($0.id, $0.name) })
        for expected in manifest.virtualMachines {
            let machine = try #require(inventory.virtualMachine(expected.id), "\(expected.name)")
            #expect(machine.name == expected.name)
            #expect(paths[machine.folder] == expected.folder, "\(machine.name)")
            #expect(names[machine.host] == expected.host, "\(machine.name)")
            #expect((clusters[machine.cluster] ?? "") == expected.cluster, "\(machine.name)")
            #expect(machine.tags.compactMap { tags[$0] }.sorted() == expected.tags, "\(machine.name)")
            #expect(machine.disks.map(\.key) == expected.disks.map(\.key), "\(machine.name)")
            #expect(machine.disks.map(\.capacity) == expected.disks.map { _ in 2048 * 1024 })
            #expect(machine.disks.map(\.file) == expected.disks.map(\.file))
            #expect(machine.poweredOn && !machine.instanceUUID.isEmpty && !machine.datastore.isEmpty)
        }
        // Service content, login, two container views (containers, VMs), each one page.
        #expect(adapter.client.roundTrips <= 10, "round trips: \(adapter.client.roundTrips)")
    }

    @Test("folder, cluster, host, tag and datacenter selections expand in the job's order; exclusions apply")
    func selectionsExpand() async throws {
        let simulator = try Simulator.shared()
        let inventory = try await simulator.adapter().inventory()
        let manifest = simulator.manifest.virtualMachines
        func job(_ objects: [String], excluding exclusions: [String]) throws -> JobDefinition {
            var settings = JobSettings()
            settings.name = "selection"
            settings.server = "vc"
            settings.repository = "repo"
            settings.objects = objects
            settings.exclusions = exclusions
            var plan = CatalogPlan(CatalogState())
            try plan.add(ManagedServer(name: "vc", platform: .lab, folder: "/lab"))
            try plan.add(RepositoryDefinition(name: "repo", path: "/repo", maxConcurrentTasks: 1, freeSpaceThresholdPercent: 0))
            return try settings.definition(base: nil, in: plan.state, defaultTimeZone: "UTC")
        }
        func names(_ objects: [String], excluding exclusions: [String] = []) throws -> [String] {
            ObjectExpansion.expand(try job(objects, excluding: exclusions), in: inventory).map(\.machine.name)
        }
        let inFolder1 = manifest.filter { $0.folder.hasPrefix("/DC0/vm/Folder1") }.map(\.name).sorted()
        #expect(!inFolder1.isEmpty)
        #expect(try names(["folder:/DC0/vm/Folder1"]) == inFolder1)
        let cluster = manifest.filter { $0.cluster == "DC1_C0" }.map(\.name).sorted()
        let tagged = manifest.filter { $0.tags == ["tag-1"] }.map(\.name).sorted()
        let expected = cluster + tagged.filter { !cluster.contains($0) }
        #expect(try names(["cluster:DC1_C0", "tag:tag-1"]) == expected)
        let host = manifest.first { $0.cluster.isEmpty }!.host
        #expect(try names(["host:\(host)"]) == manifest.filter { $0.host == host }.map(\.name).sorted())
        let dc1 = manifest.filter { $0.datacenter == "DC1" }.map(\.name).sorted()
        #expect(try names(["datacenter:DC1"], excluding: ["vm:\(dc1[0])"]) == Array(dc1.dropFirst()))
        let first = manifest.first!
        let selected = ObjectExpansion.expand(
            try job(["vm:\(first.name)"], excluding: ["disk:\(first.name)/\(first.disks[1].key)"]), in: inventory)
        #expect(selected.map { $0.disks.map(\.key) } == [[first.disks[0].key]])
    }
}
