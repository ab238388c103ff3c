import ArgumentParser
import CommandLineSupport
import Foundation
import Infrastructure

/// `tidemark server inventory NAME [--json]`: what a managed server holds, as the adapter
/// enumerates it for a job — the names and paths a job's objects select by (`vm:`, `folder:`,
/// `tag:`, `cluster:`, `host:`, `datacenter:`), each with its id.
struct ServerInventoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inventory",
        abstract:
            "List a vCenter's (or a lab's) datacenters, clusters, hosts, folders, tags and VMs with their ids and disks, as jobs see them.")

    @OptionGroup var options: CatalogOptions
    @Argument(help: "The managed server's name.") var name: String
    @Flag(help: "Print JSON for scripts.") var json = false

    func run() async throws {
        let target = try await ServerAdapter.named(name, options: options, use: "server inventory")
        let inventory = try await target.inventory()
        await target.disconnect()
        let view = InventoryView(target.server.name, target.server.platform.rawValue, inventory)
        if json {
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(view), as: UTF8.self))
        } else {
            print("\(target.label) at \(target.location): \(ServerCheckCommand.counts(inventory))")
            print(view.text(), terminator: "")
        }
    }
}

/// An inventory with references resolved to the names and paths selectors use.
struct InventoryView: Encodable {
    struct Named: Encodable { let id, name: String }
    struct Cluster: Encodable { let id, name, datacenter: String }
    struct Host: Encodable {
        let id, name: String
        /// nil for a standalone host.
        let cluster: String?
    }
    struct Folder: Encodable { let id, path, datacenter: String }
    struct Tag: Encodable { let id, name, category: String }
    struct Disk: Encodable {
        let key: Int
        let label, file, datastore: String
        let capacityBytes: Int64
    }
    struct Machine: Encodable {
        let id, name, instanceUuid, folder, host, datastore: String
        let cluster: String?
        let poweredOn: Bool
        let tags: [String]
        let disks: [Disk]
    }

    let server, platform: String
    let datacenters: [Named]
    let clusters: [Cluster]
    let hosts: [Host]
    let folders: [Folder]
    let tags: [Tag]
    let virtualMachines: [Machine]

    init(_ server: String, _ platform: String, _ inventory: Inventory) {
        self.server = server
        self.platform = platform
        let datacenterNames = Dictionary(inventory.datacenters.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        let clusterNames = Dictionary(inventory.clusters.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        let hostNames = Dictionary(inventory.hosts.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        let tagNames = Dictionary(inventory.tags.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        let paths = Self.folderPaths(inventory)
        datacenters = inventory.datacenters.map { Named(id: $0.id, name: $0.name) }.sorted { $0.name < $1.name }
        clusters = inventory.clusters.map { Cluster(id: $0.id, name: $0.name, datacenter: datacenterNames[$0.datacenter] ?? $0.datacenter) }
            .sorted { $0.name < $1.name }
        hosts = inventory.hosts.map {
            Host(id: $0.id, name: $0.name, cluster: $0.cluster.isEmpty ? nil : clusterNames[$0.cluster] ?? $0.cluster)
        }
        .sorted { $0.name < $1.name }
        folders = inventory.folders.map {
            Folder(id: $0.id, path: paths[$0.id] ?? $0.name, datacenter: datacenterNames[$0.datacenter] ?? $0.datacenter)
        }
        .sorted { $0.path < $1.path }
        tags = inventory.tags.map { Tag(id: $0.id, name: $0.name, category: $0.category) }.sorted {
            ($0.category, $0.name) < ($1.category, $1.name)
        }
        virtualMachines = inventory.virtualMachines.map { vm in
            Machine(
                id: vm.id, name: vm.name, instanceUuid: vm.instanceUUID, folder: paths[vm.folder] ?? vm.folder,
                host: hostNames[vm.host] ?? vm.host,
                datastore: vm.datastore, cluster: vm.cluster.isEmpty ? nil : clusterNames[vm.cluster] ?? vm.cluster,
                poweredOn: vm.poweredOn,
                tags: vm.tags.map { tagNames[$0] ?? $0 }.sorted(),
                disks: vm.disks.map {
                    Disk(key: $0.key, label: $0.label, file: $0.file, datastore: $0.datastore, capacityBytes: $0.capacity)
                })
        }.sorted { $0.name < $1.name }
    }

    /// `/DC1/vm/Prod` for every folder: the path a `folder:` selector takes.
    static func folderPaths(_ inventory: Inventory) -> [String: String] {
        let byID = Dictionary(inventory.folders.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let datacenterNames = Dictionary(inventory.datacenters.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        var paths: [String: String] = [:]
        for folder in inventory.folders {
            var names: [String] = []
            var current: Inventory.Folder? = folder
            // Bounded: a parent chain that loops (a broken inventory) stops at 256 steps.
            for _ in 0..<256 {
                guard let step = current else { break }
                names.append(step.name)
                current = step.parent.flatMap { byID[$0] }
            }
            paths[folder.id] = "/" + ([datacenterNames[folder.datacenter] ?? folder.datacenter] + names.reversed()).joined(separator: "/")
        }
        return paths
    }

    /// Tables for people: one per kind of object.
    func text() -> String {
        func size(_ bytes: Int64) -> String {
            bytes >= 1 << 30 && bytes % (1 << 30) == 0
                ? "\(bytes >> 30) GiB" : bytes >= 1 << 20 ? "\(bytes >> 20) MiB" : "\(bytes >> 10) KiB"
        }
        var sections: [String] = []
        sections.append(TextTable.render([["DATACENTER", "ID"]] + datacenters.map { [$0.name, $0.id] }))
        if !clusters.isEmpty {
            sections.append(TextTable.render([["CLUSTER", "ID", "DATACENTER"]] + clusters.map { [$0.name, $0.id, $0.datacenter] }))
        }
        sections.append(TextTable.render([["HOST", "ID", "CLUSTER"]] + hosts.map { [$0.name, $0.id, $0.cluster ?? "(standalone)"] }))
        sections.append(TextTable.render([["FOLDER", "ID"]] + folders.map { [$0.path, $0.id] }))
        if !tags.isEmpty { sections.append(TextTable.render([["TAG", "ID", "CATEGORY"]] + tags.map { [$0.name, $0.id, $0.category] })) }
        sections.append(
            TextTable.render(
                [["VM", "ID", "FOLDER", "HOST", "POWER", "DISKS", "TAGS"]]
                    + virtualMachines.map { vm in
                        [
                            vm.name, vm.id, vm.folder, vm.host, vm.poweredOn ? "on" : "off",
                            vm.disks.map { "\($0.key) \(size($0.capacityBytes))" }.joined(separator: ", "), vm.tags.joined(separator: ", "),
                        ]
                    }))
        return sections.joined(separator: "\n")
    }
}
