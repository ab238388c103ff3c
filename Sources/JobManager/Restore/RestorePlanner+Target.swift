import Catalog
import Foundation
import Infrastructure
import WorkflowEvents

extension RestorePlanner {
    /// The VM restore's target in the target server's ids: the folder, host, datastore and
    /// networks named (or, unnamed, the original ones where the target has them), each
    /// refused with the choices when it does not exist; a VM of the new name refused; the
    /// datastore's free space checked against the disks.
    func resolve(
        _ target: RestoreOrder.VMTarget, for machines: inout [RestoreEvent.Machine], in catalog: CatalogState
    ) async throws
        -> RestoreEvent.Target
    {
        let (serverID, server) = try Self.server(named: target.server, in: catalog)
        return try await withTarget(server) { restoring in
            try await resolve(
                target, for: &machines, server: (definition: server.definition, id: serverID), on: restoring, catalog: catalog)
        }
    }

    /// `resolve` against the target's adapter, opened.
    private func resolve(
        _ target: RestoreOrder.VMTarget, for machines: inout [RestoreEvent.Machine], server: (definition: ManagedServer, id: String),
        on restoring: any VMRestoring, catalog: CatalogState
    ) async throws -> RestoreEvent.Target {
        let inventory = try await restoring.inventory()
        let original = machines.count == 1 ? machines[0].configuration : nil
        let paths = inventory.folderPaths()

        let datacenter = try pick(
            "datacenter", target.datacenter, in: inventory.datacenters.map { ($0.id, $0.name) },
            fallback: original?.datacenterId.flatMap { id in inventory.datacenters.first { $0.id == id }?.id }
                ?? (inventory.datacenters.count == 1 ? inventory.datacenters[0].id : nil), server: server.definition.name)
        let folders = inventory.folders.filter { $0.datacenter == datacenter }
        let folder: String
        if let wanted = target.folder {
            let byPath = folders.filter { paths[$0.id] == wanted }
            let byName = folders.filter { $0.name == wanted }
            guard let found = byPath.first ?? (byName.count == 1 ? byName.first : nil) else {
                throw RestoreError(
                    .invalidRequest,
                    "\(server.definition.name) has no folder \(wanted)\(byName.count > 1 ? " (several have that name: give the path)" : ""): its folders are \(folders.compactMap { paths[$0.id] }.sorted().joined(separator: ", "))"
                )
            }
            folder = found.id
        } else if let id = original?.folderId, folders.contains(where: { $0.id == id }) {
            folder = id
        } else if let top = folders.first(where: { $0.parent == nil }) {
            folder = top.id
        } else {
            throw RestoreError(.invalidRequest, "\(server.definition.name) has no VM folder in that datacenter: name one with --folder")
        }

        let clusters = inventory.clusters.filter { $0.datacenter == datacenter }
        // A host is in the datacenter through its cluster; a standalone one through no cluster,
        // so those are offered only when the inventory has a single datacenter.
        let hosts = inventory.hosts.filter { host in
            host.cluster.isEmpty ? inventory.datacenters.count == 1 : clusters.contains { $0.id == host.cluster }
        }
        if target.host != nil && target.cluster != nil {
            throw RestoreError(.invalidRequest, "give --host or --cluster, not both")
        }
        let host: Inventory.Host
        if let wanted = target.host {
            guard let found = hosts.first(where: { $0.name == wanted || $0.id == wanted }) else {
                throw RestoreError(
                    .invalidRequest,
                    "\(server.definition.name) has no host \(wanted) in that datacenter: its hosts are \(hosts.map(\.name).sorted().joined(separator: ", "))"
                )
            }
            host = found
        } else if let wanted = target.cluster {
            guard let cluster = clusters.first(where: { $0.name == wanted || $0.id == wanted }),
                let found = hosts.first(where: { $0.cluster == cluster.id })
            else {
                throw RestoreError(
                    .invalidRequest,
                    "\(server.definition.name) has no cluster \(wanted) with a host: its clusters are \(clusters.map(\.name).sorted().joined(separator: ", "))"
                )
            }
            host = found
        } else if let id = original?.hostId, let found = hosts.first(where: { $0.id == id }) {
            host = found
        } else if let first = hosts.first {
            host = first
        } else {
            throw RestoreError(.invalidRequest, "\(server.definition.name) has no host in that datacenter to run the VM")
        }

        let datastore = try pick(
            "datastore", target.datastore, in: inventory.datastores.map { ($0.id, $0.name) },
            fallback: original?.datastoreId.flatMap { id in inventory.datastores.first { $0.id == id }?.id }
                ?? original?.datastoreName.flatMap { name in inventory.datastores.first { $0.name == name }?.id }
                ?? (inventory.datastores.count == 1 ? inventory.datastores[0].id : nil), server: server.definition.name)

        var overwritten = Set<String>()
        for index in machines.indices {
            let machine = machines[index]
            let name = machine.targetName ?? machine.vmName
            let named = inventory.virtualMachines.filter { $0.name == name }
            guard let existing = named.first else { continue }
            guard target.overwrite else {
                throw RestoreError(
                    .targetExists,
                    "\(server.definition.name) already has a VM named \(name) (\(existing.id)): choose another with --name (restoring over it needs --overwrite)"
                )
            }
            guard named.count == 1 else {
                throw RestoreError(
                    .invalidRequest,
                    "\(server.definition.name) has several VMs named \(name) (\(named.map(\.id).joined(separator: ", "))): nothing is written over an ambiguous name"
                )
            }
            // Over the original (no --name) only the very VM backed up: another that took its
            // name since is not it.
            if target.name == nil && existing.id != machine.vmId {
                throw RestoreError(
                    .invalidRequest,
                    "the VM named \(name) on \(server.definition.name) is \(existing.id), not the \(machine.vmId) that was backed up: to write over it anyway, name it with --name \(name) --overwrite"
                )
            }
            try Self.checkOverwrite(existing, with: machine, powerOff: target.powerOff, server: server.definition.name)
            if !(try await restoring.snapshots(of: existing.id)).isEmpty {
                throw RestoreError(
                    .invalidRequest,
                    "\(existing.name) (\(existing.id)) has snapshots: writing its disks would break them; remove them first (a backup running now holds one)"
                )
            }
            machines[index].overwriteVmId = existing.id
            // What changed since the point can be asked only of the very VM it was taken of.
            let pointServer = machine.jobId.flatMap { catalog.jobs[$0]?.definition.server }
            if existing.id == machine.vmId && pointServer == server.id {
                machines[index].changeId = machine.changeId
            } else {
                machines[index].changeId = nil
            }
            overwritten.insert(machine.vmId)
        }
        // NICs are made only for new VMs: a VM written over keeps its own.
        let networkMap = try networks(
            target.networkMap, for: machines.filter { !overwritten.contains($0.vmId) }, on: inventory, server: server.definition.name)
        let needed = machines.filter { !overwritten.contains($0.vmId) }.flatMap(\.disks).reduce(Int64(0)) { $0 + $1.sizeBytes }
        if needed > 0, let free = try await restoring.freeSpace(datastore: datastore), free < needed {
            throw RestoreError(
                .insufficientSpace,
                "datastore \(inventory.datastores.first { $0.id == datastore }?.name ?? datastore) has \(free) bytes free, the disks need \(needed): choose another with --datastore"
            )
        }
        return RestoreEvent.Target(
            serverId: server.id, serverName: server.definition.name, folderId: folder, folderPath: paths[folder] ?? folder,
            hostId: host.id, hostName: host.name, clusterId: host.cluster, datastoreId: datastore,
            datastoreName: inventory.datastores.first { $0.id == datastore }?.name ?? datastore, networkMap: networkMap,
            powerOn: target.powerOn, keepMac: target.keepMac, overwrite: target.overwrite, powerOff: target.powerOff)
    }

    /// A VM may be written over when it has every disk of the restore point at its size and is
    /// off (or may be switched off).
    static func checkOverwrite(_ existing: VirtualMachine, with machine: RestoreEvent.Machine, powerOff: Bool, server: String) throws {
        var differences: [String] = []
        for disk in machine.disks {
            guard let present = existing.disks.first(where: { $0.key == disk.key }) else {
                differences.append("\(disk.disk) is not on the VM")
                continue
            }
            if present.capacity != disk.sizeBytes {
                differences.append("\(disk.disk) holds \(present.capacity) bytes on the VM, \(disk.sizeBytes) in the restore point")
            }
        }
        guard differences.isEmpty else {
            throw RestoreError(
                .invalidRequest,
                "\(existing.name) (\(existing.id)) on \(server) cannot take the restore point's disks (\(differences.joined(separator: "; "))): restore under a new name with --name"
            )
        }
        if existing.poweredOn && !powerOff {
            throw RestoreError(
                .invalidRequest,
                "\(existing.name) (\(existing.id)) is powered on: switch it off first, or pass --power-off to let the restore do it")
        }
    }

    /// One of the target's objects by name (or id); unnamed, the fallback; else refused with the choices.
    private func pick(
        _ what: String, _ wanted: String?, in objects: [(id: String, name: String)], fallback: String?, server: String
    )
        throws -> String
    {
        if let wanted {
            if let found = objects.first(where: { $0.name == wanted || $0.id == wanted }) { return found.id }
            throw RestoreError(
                .invalidRequest,
                "\(server) has no \(what) \(wanted): its \(what)s are \(objects.map(\.name).sorted().joined(separator: ", "))")
        }
        if let fallback { return fallback }
        throw RestoreError(
            .invalidRequest,
            "name the \(what) on \(server) with --\(what) (its \(what)s are \(objects.map(\.name).sorted().joined(separator: ", ")))")
    }

    /// Every source network the VMs' NICs use, mapped to a target network id: by `--network-map`
    /// (names), else to the network of the same name. A map entry whose source no NIC uses, or
    /// whose target does not exist, is refused.
    private func networks(
        _ map: [String: String], for machines: [RestoreEvent.Machine], on inventory: Inventory, server: String
    )
        throws -> [String: String]
    {
        let nics = machines.flatMap { $0.configuration?.nics ?? [] }
        let used = Set(nics.compactMap { $0.networkName ?? $0.networkId })
        let available = inventory.networks.map(\.name).sorted().joined(separator: ", ")
        for (source, destination) in map {
            guard used.contains(source) else {
                throw RestoreError(
                    .invalidRequest,
                    "--network-map \(source)=\(destination): no NIC of the VMs restored is on \(source) (they use \(used.sorted().joined(separator: ", ")))"
                )
            }
            guard inventory.networks.contains(where: { $0.name == destination }) else {
                throw RestoreError(
                    .invalidRequest,
                    "--network-map \(source)=\(destination): \(server) has no network \(destination) (its networks: \(available))")
            }
        }
        var result: [String: String] = [:]
        for nic in nics {
            let source = nic.networkName ?? nic.networkId ?? ""
            let key = nic.networkId ?? source
            let name = map[source] ?? source
            guard let network = inventory.networks.first(where: { $0.name == name }) else {
                throw RestoreError(
                    .invalidRequest,
                    "network \(source) of the VMs restored does not exist on \(server): map it with --network-map '\(source)=NEW' (its networks: \(available))"
                )
            }
            result[key] = network.id
        }
        return result
    }

    /// A managed server by name, or the error that lists them.
    static func server(named name: String, in catalog: CatalogState) throws -> (UUIDString, CatalogEntry<ManagedServer>) {
        guard let id = catalog.id(of: ManagedServer.self, named: name), let server = catalog.servers[id] else {
            let names = catalog.servers.values.map(\.definition.name).sorted()
            throw RestoreError(
                .invalidRequest,
                "there is no managed server named \(name) (known: \(names.isEmpty ? "none" : names.joined(separator: ", "))): see 'tidemark server list'"
            )
        }
        return (id, server)
    }

    /// One disk written over a disk of an existing VM (`restore disk --to-vm`): the VM by name
    /// or id, its disk of the target key at the point's size, off or allowed to be switched off.
    func resolveDiskTarget(
        _ target: RestoreOrder.VMTarget, for machine: inout RestoreEvent.Machine, in catalog: CatalogState
    )
        async throws -> RestoreEvent.Target
    {
        guard let name = target.name else { throw RestoreError(.invalidRequest, "name the VM to write the disk into with --to-vm") }
        // Without --to-server: the server the point was backed up from.
        let serverName =
            target.server.isEmpty
            ? machine.jobId.flatMap { catalog.jobs[$0]?.definition.server }.map { catalog.name(of: $0) } ?? "" : target.server
        let (serverID, server) = try Self.server(named: serverName, in: catalog)
        return try await withTarget(server) { restoring in
            let inventory = try await restoring.inventory()
            guard let existing = inventory.virtualMachines.first(where: { $0.name == name }) ?? inventory.virtualMachine(name) else {
                let names = inventory.virtualMachines.map(\.name).sorted()
                throw RestoreError(
                    .invalidRequest,
                    "\(server.definition.name) has no VM named \(name) (its VMs: \(RestorePointCatalog.listed(names)))")
            }
            try Self.checkOverwrite(existing, with: Self.onTargetKeys(machine), powerOff: target.powerOff, server: server.definition.name)
            if !(try await restoring.snapshots(of: existing.id)).isEmpty {
                throw RestoreError(
                    .invalidRequest,
                    "\(existing.name) (\(existing.id)) has snapshots: writing its disk would break them; remove them first (a backup running now holds one)"
                )
            }
            machine.overwriteVmId = existing.id
            let pointServer = machine.jobId.flatMap { catalog.jobs[$0]?.definition.server }
            let sameDisk = machine.disks.allSatisfy { ($0.targetKey ?? $0.key) == $0.key }
            if !(existing.id == machine.vmId && pointServer == serverID && sameDisk) { machine.changeId = nil }
            let resolved = RestoreEvent.Target(
                serverId: serverID, serverName: server.definition.name, folderId: existing.folder,
                folderPath: inventory.folderPaths()[existing.folder] ?? existing.folder, hostId: existing.host,
                hostName: inventory.hosts.first { $0.id == existing.host }?.name ?? existing.host, clusterId: existing.cluster,
                datastoreId: existing.datastore,
                datastoreName: inventory.datastores.first { $0.id == existing.datastore }?.name ?? existing.datastore,
                networkMap: [:], powerOn: target.powerOn, keepMac: false, overwrite: true, powerOff: target.powerOff)
            return resolved
        }
    }

    /// Runs `body` with the server's adapter as a restore target, disconnected after on every path.
    func withTarget<T>(_ server: CatalogEntry<ManagedServer>, _ body: (any VMRestoring) async throws -> T) async throws -> T {
        let opened = try await manager.adapters.open(
            server.definition, for: "restore to '\(server.definition.name)'", secrets: manager.settings.secrets, logger: manager.logger)
        do {
            guard let restoring = opened.adapter as? any VMRestoring else {
                throw RestoreError(
                    .invalidRequest,
                    "'\(server.definition.name)' (\(server.definition.platform.rawValue)) cannot have VMs created or written by Tidemark yet"
                )
            }
            let value = try await body(restoring)
            await opened.adapter.disconnect()
            return value
        } catch {
            await opened.adapter.disconnect()
            throw error
        }
    }

    /// The machine as the VM written over sees it: each disk under the key it is written over.
    static func onTargetKeys(_ machine: RestoreEvent.Machine) -> RestoreEvent.Machine {
        var view = machine
        view.disks = machine.disks.map { disk in
            var renamed = disk
            renamed.key = disk.targetKey ?? disk.key
            renamed.disk = "disk-\(renamed.key)"
            return renamed
        }
        return view
    }
}
