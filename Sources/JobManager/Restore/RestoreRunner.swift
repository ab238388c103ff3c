import BlockingIO
import DataMover
import EventStore
import Foundation
import Infrastructure
import Logging
import Postgres
import Repository
import WorkflowEvents

/// The steps of one restore, each decided from the folded stream: the VM created (or adopted
/// by its mark), each disk copied from its last checkpoint, the VM switched on once every disk
/// is in, the end with its statistics. An error a rerun would meet again (a missing or corrupt
/// chunk, a target that refuses) fails the disk or the VM with the reason, and the restore ends
/// failed; database trouble, an unreachable server or repository, a busy repository and
/// cancellation leave it unfinished, to be resumed.
struct RestoreRunner {
    let manager: RestoreManager
    let restore: String
    let recorder: RestoreRecorder
    /// The connection whose claims hold this restore (and its throttle slot) while it runs.
    let slots: TaskSlots

    var logger: Logger {
        var logger = manager.logger
        logger[metadataKey: "restore"] = "\(restore)"
        return logger
    }

    func run() async throws -> RestoreReport {
        let state = await recorder.state
        guard let requested = state.requested else { throw RestoreError(.noSuchRestore, "there is no restore \(restore)") }
        if state.finished != nil { return await report(requested) }
        let started = ContinuousClock.now
        var busy = RestoreDiskCopy.Busy()
        var failures: [String] = []
        do {
            // Held to the end: retention and collection wait rather than delete what is read.
            let (repository, lock) = try await openRepository(requested)
            defer { lock.release() }
            let throttle = requested.what == .files ? nil : try await throttle(requested)
            let target = try await openTarget(requested)
            do {
                if requested.what == .files {
                    do {
                        try await restoreGuestFiles(requested, busy: &busy)
                    } catch let error where Self.isFinal(error) {
                        failures.append(await recorder.clean("\(error)"))
                        logger.error("files not restored", metadata: ["error": "\(failures.last ?? "")"])
                    }
                }
                for machine in requested.vms where requested.what != .files {
                    do {
                        try await restoreMachine(
                            machine, requested: requested, repository: repository, target: target, throttle: throttle, busy: &busy)
                    } catch let error where Self.isFinal(error) {
                        let reason = await recorder.clean("\(error)")
                        failures.append("\(machine.vmName): \(reason)")
                        logger.error("VM not restored", metadata: ["vm": "\(machine.vmName)", "error": "\(reason)"])
                    }
                }
            } catch {
                await target?.disconnect()
                throw error
            }
            await target?.disconnect()
        } catch let error where Self.isFinal(error) {
            failures.append(await recorder.clean("\(error)"))
        }
        return try await finish(requested, failures: failures, busy: busy, seconds: RestoreDiskCopy.seconds(ContinuousClock.now - started))
    }

    /// Errors that end a VM's restore for good. Not: database trouble, cancellation, a server
    /// or repository that cannot be reached right now, a repository busy with retention —
    /// those leave the restore to be resumed.
    static func isFinal(_ error: any Error) -> Bool {
        if Task.isCancelled { return false }
        switch error {
        case is PostgresError, is CancellationError, is EventStoreError: return false
        case let error as InfrastructureError: return error.code != .unreachable
        case let error as RepositoryError: return ![.busy, .notARepository].contains(error.code)
        default: return true
        }
    }

    /// The repository, and its shared lock for the whole run.
    private func openRepository(_ requested: RestoreEvent.Requested) async throws -> (any RepositoryStore, RepositoryHold) {
        let catalog = try await manager.catalog.load()
        guard let definition = catalog.repositories[requested.repositoryId]?.definition else {
            throw RestoreError(.invalidRequest, "repository '\(requested.repositoryName)' is no longer in the catalog")
        }
        if definition.isRemote {
            let repository = try await definition.openService(id: requested.repositoryId, settings: manager.settings)
            return (repository, try await BlockingIOPool.shared.run { () throws(RepositoryError) in try repository.readHold(wait: false) })
        }
        return try await BlockingIOPool.shared.run { () throws(RepositoryError) in
            let repository = try BackupRepository.open(at: URL(fileURLWithPath: definition.path))
            return (repository, try repository.readHold(wait: false))
        }
    }

    /// The target server's adapter, for VM restores; its secrets go to the recorder's scrubber.
    private func openTarget(_ requested: RestoreEvent.Requested) async throws -> (any VMRestoring)? {
        guard let target = requested.target else { return nil }
        let catalog = try await manager.catalog.load()
        guard let server = catalog.servers[target.serverId]?.definition else {
            throw RestoreError(.invalidRequest, "the target server '\(target.serverName)' is no longer in the catalog")
        }
        let opened = try await manager.adapters.open(
            server, for: "restore to '\(server.name)'", secrets: manager.settings.secrets, logger: manager.logger)
        await recorder.redact(opened.secrets)
        guard let restoring = opened.adapter as? any VMRestoring else {
            await opened.adapter.disconnect()
            throw RestoreError(.invalidRequest, "'\(server.name)' cannot have VMs created by Tidemark")
        }
        return restoring
    }

    private func restoreMachine(
        _ machine: RestoreEvent.Machine, requested: RestoreEvent.Requested, repository: any RepositoryStore, target: (any VMRestoring)?,
        throttle: TokenBucket?, busy: inout RestoreDiskCopy.Busy
    ) async throws {
        let prepared: RestoreEvent.TargetPrepared? =
            if let target, let destination = requested.target {
                try await prepareTarget(machine, destination: destination, on: target)
            } else { nil }
        let tasks = machine.disks.map { disk in (disk, RestoreState.taskID(vm: machine.vmId, key: disk.key)) }
        let started = ContinuousClock.now
        var running = 0
        try await withThrowingTaskGroup(of: RestoreDiskCopy.Busy.self) { group in
            for (disk, task) in tasks where await recorder.state.disks[task]?.finished != true {
                running += 1
                group.addTask {
                    try await restoreDisk(
                        disk, task: task, machine: machine, requested: requested, repository: repository, target: target,
                        prepared: prepared, throttle: throttle)
                }
            }
            for try await taken in group {
                busy.source += taken.source
                busy.target += taken.target
            }
        }
        busy.parallelSeconds += RestoreDiskCopy.seconds(ContinuousClock.now - started) * Double(max(running, 1))
        let disks = await recorder.state.disks
        guard tasks.allSatisfy({ disks[$0.1]?.progress?.result == .success }) else { return }
        // A kept publish overlay goes over its restored disk once the disk is in place.
        for (disk, task) in tasks {
            guard let overlay = disk.overlay, let path = disk.path, await !recorder.state.overlaysApplied.contains(task) else { continue }
            let (sectors, bytes) = try await BlockingIOPool.shared.run { () throws in
                try RestoreOverlay.apply(folder: overlay, disk: disk.disk, to: path)
            }
            try await recorder.record(
                .overlayApplied, RestoreEvent.OverlayApplied(taskId: task, overlay: overlay, sectors: sectors, bytes: bytes))
        }
        if let target, let destination = requested.target, let prepared, destination.powerOn,
            await !recorder.state.poweredOn.contains(machine.vmId)
        {
            let power = RestoreEvent.Power(vmId: machine.vmId, targetVmId: prepared.targetVmId)
            if await !recorder.state.powerOnRequested.contains(machine.vmId) { try await recorder.record(.powerOnRequested, power) }
            let current = try await target.inventory().virtualMachine(prepared.targetVmId)
            if current?.poweredOn != true { try await target.powerOn(vm: prepared.targetVmId) }
            try await recorder.record(.poweredOn, power)
        }
    }

    /// The VM the restore creates: recorded as an intent first, then created, or adopted by
    /// its mark when a crashed run created it already. A VM recorded before is checked again:
    /// still there, still marked as this restore's, and off unless this restore switched it
    /// on — a restore never writes into a VM it did not make, nor into a running one.
    private func prepareTarget(
        _ machine: RestoreEvent.Machine, destination: RestoreEvent.Target, on target: any VMRestoring
    )
        async throws -> RestoreEvent.TargetPrepared
    {
        if let existing = machine.overwriteVmId {
            return try await prepareOverwrite(machine, existing: existing, destination: destination, on: target)
        }
        let annotation = "tidemark-restore:\(restore)/\(machine.vmId)"
        if let prepared = await recorder.state.targets[machine.vmId] {
            let current = try await target.inventory().virtualMachine(prepared.targetVmId)
            guard let current, current.annotation == annotation else {
                throw RestoreError(
                    .invalidRequest,
                    "the VM \(prepared.targetVmName) (\(prepared.targetVmId)) this restore created is gone or no longer carries its mark: nothing more is written"
                )
            }
            if current.poweredOn, await !recorder.state.poweredOn.contains(machine.vmId),
                await !recorder.state.powerOnRequested.contains(machine.vmId)
            {
                throw RestoreError(
                    .invalidRequest,
                    "the VM \(prepared.targetVmName) (\(prepared.targetVmId)) was switched on before its disks were restored: nothing more is written into it"
                )
            }
            return prepared
        }
        let name = machine.targetName ?? machine.vmName + "-restored"
        if await recorder.state.targetsRequested[machine.vmId] == nil {
            try await recorder.record(
                .targetRequested, RestoreEvent.TargetRequested(vmId: machine.vmId, name: name, annotation: annotation))
        }
        let inventory = try await target.inventory()
        if let mine = inventory.virtualMachines.first(where: { $0.annotation == annotation }) {
            let prepared = RestoreEvent.TargetPrepared(vmId: machine.vmId, targetVmId: mine.id, targetVmName: mine.name, adopted: true)
            try await recorder.record(.targetPrepared, prepared)
            return prepared
        }
        let created = try await target.createVM(Self.specification(machine, name: name, annotation: annotation, destination: destination))
        logger.info("VM created", metadata: ["vm": "\(created.name)", "id": "\(created.id)"])
        let prepared = RestoreEvent.TargetPrepared(vmId: machine.vmId, targetVmId: created.id, targetVmName: created.name, adopted: false)
        try await recorder.record(.targetPrepared, prepared)
        return prepared
    }

    /// The VM written over (`--overwrite`): still there, and off — switched off by the restore
    /// when that was allowed (`--power-off`, intent and outcome recorded), else refused.
    private func prepareOverwrite(
        _ machine: RestoreEvent.Machine, existing: String, destination: RestoreEvent.Target, on target: any VMRestoring
    ) async throws -> RestoreEvent.TargetPrepared {
        guard let current = try await target.inventory().virtualMachine(existing) else {
            throw RestoreError(.invalidRequest, "the VM \(machine.targetName ?? machine.vmName) (\(existing)) to restore over is gone")
        }
        let prepared =
            await recorder.state.targets[machine.vmId]
            ?? RestoreEvent.TargetPrepared(vmId: machine.vmId, targetVmId: existing, targetVmName: current.name, adopted: false)
        // Checked again on every run, before anything is switched off: the VM may have
        // changed since the request (a disk resized, a snapshot taken).
        try RestorePlanner.checkOverwrite(
            current, with: RestorePlanner.onTargetKeys(machine), powerOff: true, server: destination.serverName)
        if !(try await target.snapshots(of: existing)).isEmpty {
            throw RestoreError(.invalidRequest, "\(current.name) (\(existing)) has snapshots now: writing its disks would break them")
        }
        let restoredOn = await recorder.state.powerOnRequested.contains(machine.vmId)
        if current.poweredOn && !restoredOn {
            guard destination.powerOff == true else {
                throw RestoreError(
                    .invalidRequest,
                    "\(current.name) (\(existing)) was switched on since the request: nothing is written into a running VM; switch it off and restore again"
                )
            }
            let power = RestoreEvent.Power(vmId: machine.vmId, targetVmId: existing)
            if await !recorder.state.powerOffRequested.contains(machine.vmId) { try await recorder.record(.powerOffRequested, power) }
            try await target.powerOff(vm: existing)
            try await recorder.record(.poweredOff, power)
        }
        if await recorder.state.targets[machine.vmId] == nil { try await recorder.record(.targetPrepared, prepared) }
        return prepared
    }

    /// The recorded configuration mapped to the target: its folder, host, datastore and
    /// networks; a new instance UUID; new MAC addresses unless they are kept.
    static func specification(
        _ machine: RestoreEvent.Machine, name: String, annotation: String, destination: RestoreEvent.Target
    ) -> NewVirtualMachine {
        let configuration = machine.configuration
        let recordedDisks = configuration?.disks ?? []
        let disks = machine.disks.enumerated().map { index, disk in
            let recorded = recordedDisks.first { $0.key == disk.key }
            return VirtualDisk(
                key: disk.key, label: recorded?.label ?? "Hard disk \(index + 1)", capacity: disk.sizeBytes,
                datastore: destination.datastoreId, file: "", controllerKey: recorded?.controllerKey ?? 1000,
                unitNumber: recorded?.unitNumber ?? (index < 7 ? index : index + 1), thinProvisioned: recorded?.thinProvisioned ?? true)
        }
        let nics = (configuration?.nics ?? []).map { nic in
            VirtualNIC(
                key: nic.key, label: nic.label ?? "Network adapter", adapterType: nic.adapterType ?? "vmxnet3",
                network: destination.networkMap[nic.networkId ?? nic.networkName ?? ""] ?? "",
                macAddress: destination.keepMac ? nic.macAddress ?? "" : "")
        }
        return NewVirtualMachine(
            name: name, folder: destination.folderId, host: destination.hostId, cluster: destination.clusterId,
            datastore: destination.datastoreId,
            hardware: VMHardware(
                cpus: configuration?.cpus ?? 1, memoryMiB: configuration?.memoryMiB ?? 1024, firmware: configuration?.firmware ?? "bios",
                guestID: configuration?.guestId ?? "otherGuest64", nics: nics,
                controllers: configuration?.controllers?.compactMap { recorded in
                    VirtualController.Kind(rawValue: recorded.type).map {
                        VirtualController(key: recorded.key, kind: $0, busNumber: recorded.busNumber ?? 0)
                    }
                }),
            disks: disks, instanceUUID: nil, annotation: annotation)
    }
}
