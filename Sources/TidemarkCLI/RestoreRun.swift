import ArgumentParser
import CommandLineSupport
import EventStore
import Foundation
import JobManager
import PlatformAdapters
import Postgres

/// Requests a restore, runs it in this process, prints what it did; the projections are
/// caught up before the command exits, so `session list` and `reporting.restores` show it.
enum RestoreRun {
    static func request(_ order: RestoreOrder, metadata: EventMetadata, global: GlobalOptions) async throws {
        try await withManager(global) { manager in
            let id = try await manager.request(order, metadata: metadata)
            print("restore \(id) requested")
            return try await runOrFollow(id, manager)
        }
    }

    /// A stopped publish's VM, point and kept overlay folder.
    static func keptOverlay(_ publish: String, global: GlobalOptions) async throws -> (vm: String, point: String, folder: String) {
        let logger = try global.makeLogger()
        let database = try CatalogDatabase(options: global, logger: logger)
        let store = try await database.openEventStore(maximumConnections: 2)
        return try await withClosing(store) { store in
            try await PublishManager(store: store, settings: try global.jobManagerSettings(), logger: logger).keptOverlay(publish)
        }
    }

    static func resume(_ id: String, global: GlobalOptions) async throws {
        try await withManager(global) { manager in
            print("resuming restore \(id)")
            return try await runOrFollow(id, manager)
        }
    }

    /// Runs the restore here, or, while another process runs it (a server took it up first),
    /// waits and tries again: it reports once the restore ends, wherever it ran, and takes it
    /// over if that process dies.
    private static func runOrFollow(_ id: String, _ manager: RestoreManager) async throws -> RestoreReport {
        var told = false
        while true {
            do {
                return try await manager.run(restore: id)
            } catch let error as RestoreError where error.code == .busy {
                if !told { print("restore \(id) is running in another process: waiting for it to end") }
                told = true
                try await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    private static func withManager(_ global: GlobalOptions, _ body: (RestoreManager) async throws -> RestoreReport) async throws {
        let logger = try global.makeLogger()
        let database = try CatalogDatabase(options: global, logger: logger)
        let store = try await database.openEventStore(maximumConnections: 4)
        let report = try await withClosing(store) { _ in
            let manager = RestoreManager(
                store: store, settings: JobManagerSettings.fromEnvironment(dataDirectory: database.dataDirectory),
                adapters: PlatformAdapters.standard, logger: logger)
            let report = try await body(manager)
            await ProjectionCatchUp.afterAppending(store, logger: logger)
            return report
        }
        print(describe(report))
        if report.finished.result != .success { throw ExitCode(2) }
    }

    static func describe(_ report: RestoreReport) -> String {
        let finished = report.finished
        var lines = ["restore \(report.restore): \(finished.result)"]
        for machine in report.machines {
            var line = "  \(machine.vmName) from \(machine.restorePointId)"
            if let target = machine.target { line += " → VM \(target)\(machine.poweredOn ? ", powered on" : "")" }
            if !machine.files.isEmpty { line += " → \(machine.files.joined(separator: ", "))" }
            lines.append(line)
        }
        lines.append(
            String(
                format: "  read %.1f MB, written %.1f MB, skipped %.1f MB (zeros or identical) in %.1f s (%.1f MB/s)%@",
                Double(finished.readBytes) / 1e6, Double(finished.writtenBytes) / 1e6, Double(finished.skippedBytes) / 1e6,
                finished.durationSeconds, Double(finished.bytesPerSecond) / 1e6, finished.bottleneck.map { ", bottleneck: \($0)" } ?? ""))
        if let reason = finished.reason { lines.append("  reason: \(reason)") }
        return lines.joined(separator: "\n")
    }
}

struct RestoreVMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vm",
        abstract: "Restore whole VMs to a managed server under a new name, with their recorded configuration.",
        discussion: """
            The VM is created powered off with the CPUs, memory, firmware, disks and NICs its backup recorded, mapped to the \
            target's folder, host, datastore and networks (each defaults to the original where the target has it), gets a new \
            instance UUID and, unless --keep-mac, new MAC addresses; its disks are written, and with --power-on it is switched on \
            once every disk is in. Several VMs restore as <name>-restored.
            """
    )
    @Argument(help: "The VMs to restore (names or ids).") var vms: [String]
    @Option(name: .customLong("to-server"), help: "The managed server to restore to (a vCenter or a lab).") var server: String
    @Option(help: "The new VM's name (one VM only; default <name>-restored).") var name: String?
    @Option(help: "The datacenter.") var datacenter: String?
    @Option(help: "The VM folder, as a path (/DC/vm/Test) or a unique name.") var folder: String?
    @Option(help: "The host to register the VM on.") var host: String?
    @Option(help: "The cluster (its first host) when no --host is given.") var cluster: String?
    @Option(help: "The datastore for the VM's files and disks.") var datastore: String?
    @Option(name: .customLong("network-map"), help: ArgumentHelp("Connect NICs on network OLD to NEW (repeatable).", valueName: "OLD=NEW"))
    var networkMap: [String] = []
    @Flag(name: .customLong("power-on"), help: "Switch the VM on once every disk is restored.") var powerOn = false
    @Flag(name: .customLong("keep-mac"), help: "Keep the recorded MAC addresses (default: new ones).") var keepMac = false
    @Flag(help: "Restore over the VM of that name (the original, when no --name is given): only the blocks that differ are written.")
    var overwrite = false
    @Flag(name: .customLong("power-off"), help: "With --overwrite: switch the VM off first if it runs (otherwise it must be off).")
    var powerOff = false
    @OptionGroup var pointOptions: RestorePointOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if powerOff && !overwrite { throw ValidationError("--power-off goes with --overwrite: a new VM is created off") }
        for entry in networkMap
        where entry.split(separator: "=", omittingEmptySubsequences: false).count != 2 || entry.hasPrefix("=") || entry.hasSuffix("=") {
            throw ValidationError("--network-map '\(entry)' is not OLD=NEW: name the backup's network, '=', and the target's")
        }
    }

    func run() async throws {
        var map: [String: String] = [:]
        for entry in networkMap {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            map[parts[0]] = parts[1]
        }
        let target = RestoreOrder.VMTarget(
            server: server, name: name, datacenter: datacenter, folder: folder, host: host, cluster: cluster, datastore: datastore,
            networkMap: map, powerOn: powerOn, keepMac: keepMac, overwrite: overwrite, powerOff: powerOff)
        try await RestoreRun.request(
            RestoreOrder(vms: vms, point: pointOptions.choice, destination: .vm(target), reason: pointOptions.reason),
            metadata: pointOptions.metadata, global: global)
    }
}

struct RestoreDiskCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "disk",
        abstract: "Restore one disk of a VM's restore point to a file (a raw image, sparse by default) or over a disk of an existing VM.",
        discussion: """
            With --to-vm the disk is written over the VM's disk of the same key (or --target-disk), which must be as large; the VM \
            must be off, or --power-off lets the restore switch it off. Naming the VM is the consent to write into it.
            """)
    @Option(help: "The VM backed up (name or id).") var vm: String?
    @Option(help: "The disk: its key (2000) or name (disk-2000).") var disk: String
    @Option(help: "The file to write.") var to: String?
    @Option(
        name: .customLong("from-publish"),
        help: ArgumentHelp(
            "Migrate after instant access: the VM and restore point of this stopped publish, with the writes its kept overlay holds written over the disk (--to FILE).",
            valueName: "publish id"))
    var fromPublish: String?
    @Option(name: .customLong("to-vm"), help: "An existing VM to write the disk into (name or id).") var toVM: String?
    @Option(name: .customLong("to-server"), help: "The server of --to-vm (default: the one the point was backed up from).")
    var server: String?
    @Option(name: .customLong("target-disk"), help: "The key of the --to-vm disk to write over (default: the same key).") var targetDisk:
        Int?
    @Flag(name: .customLong("power-off"), help: "With --to-vm: switch the VM off first if it runs.") var powerOff = false
    @Flag(name: .customLong("power-on"), help: "With --to-vm: switch the VM on once the disk is in.") var powerOn = false
    @Flag(help: "Replace the file if it exists.") var force = false
    @Option(help: "sparse (zeros left as holes, the default) or raw (every byte written).") var format: ImageFormat = .sparse
    @OptionGroup var pointOptions: RestorePointOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard (to == nil) != (toVM == nil) else { throw ValidationError("give --to FILE or --to-vm VM (one of them)") }
        if fromPublish != nil {
            guard vm == nil, pointOptions.point == "latest", pointOptions.at == nil else {
                throw ValidationError("--from-publish names the VM and the restore point: leave out --vm, --point and --at")
            }
            guard to != nil else { throw ValidationError("--from-publish restores to a file: give --to FILE") }
        } else if vm == nil {
            throw ValidationError("name the VM with --vm (or a stopped publish with --from-publish)")
        }
        if toVM == nil && (server != nil || targetDisk != nil || powerOff || powerOn) {
            throw ValidationError("--to-server, --target-disk, --power-off and --power-on go with --to-vm")
        }
        if toVM != nil && (force || format != .sparse) { throw ValidationError("--force and --format go with --to FILE") }
    }

    func run() async throws {
        let destination: RestoreOrder.Destination
        if let toVM {
            destination = .diskToVM(
                disk: disk,
                target: RestoreOrder.VMTarget(server: server ?? "", name: toVM, powerOn: powerOn, overwrite: true, powerOff: powerOff),
                targetDisk: targetDisk)
        } else {
            destination = .diskFile(disk: disk, path: to ?? "", replace: force)
        }
        var order = RestoreOrder(
            vms: [vm ?? ""], point: pointOptions.choice, destination: destination, reason: pointOptions.reason, raw: format == .raw)
        if let fromPublish {
            let kept = try await RestoreRun.keptOverlay(fromPublish, global: global)
            order.vms = [kept.vm]
            order.point = .id(kept.point)
            order.overlay = kept.folder
        }
        try await RestoreRun.request(order, metadata: pointOptions.metadata, global: global)
    }
}

struct RestoreExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export VMs' disks as raw images, sparse by default (<folder>/<vm name>-disk-<key>.img).")
    @Argument(help: "The VMs (names or ids).") var vms: [String]
    @Option(name: .customLong("to-folder"), help: "The folder to write to (it must exist).") var folder: String
    @Flag(help: "Replace files that exist.") var force = false
    @Option(help: "sparse (zeros left as holes, the default) or raw (every byte written).") var format: ImageFormat = .sparse
    @OptionGroup var pointOptions: RestorePointOptions
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await RestoreRun.request(
            RestoreOrder(
                vms: vms, point: pointOptions.choice, destination: .export(folder: folder, replace: force), reason: pointOptions.reason,
                raw: format == .raw),
            metadata: pointOptions.metadata, global: global)
    }
}

struct RestoreResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Resume a restore that was interrupted (a crash, a killed command) from its last checkpoint.")
    @Argument(help: "The restore's id ('tidemark session list' shows unfinished restores).") var id: String
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await RestoreRun.resume(id.lowercased(), global: global)
    }
}

/// How a disk is written to a file.
enum ImageFormat: String, ExpressibleByArgument, CaseIterable {
    case sparse, raw
}
