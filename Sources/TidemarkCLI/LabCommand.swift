import ArgumentParser
import Catalog
import CommandLineSupport
import Foundation
import Infrastructure

struct LabCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "The built-in lab infrastructure: VMs whose disks are image files in a folder.",
        subcommands: [Create.self, Show.self, Mutate.self, Inject.self]
    )

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a lab: VMs with generated disks (zeros, compressible and random data, shared template blocks).")
        @Argument(help: "A new or empty folder.") var directory: String
        @Option(help: "How many VMs.") var vms: Int = 3
        @Option(name: .customLong("disks-per-vm"), help: "Disks per VM.") var disksPerVM: Int = 1
        @Option(name: .customLong("disk-size"), help: "Each disk's size: 64M, 1G...") var diskSize: String = "64M"
        @Flag(help: "Give each VM's first disk a partition table and an ext4 file system with files (needs e2fsprogs' mke2fs).")
        var guestFiles = false

        func validate() throws { _ = try size() }

        func size() throws -> Int64 { try parseSize(diskSize, option: "--disk-size", range: (Int64(64) << 10)...(Int64(1) << 42)) }

        func run() throws {
            let size = try size()
            let lab = try LabAdapter.create(at: directory, vms: vms, disksPerVM: disksPerVM, diskSize: size, guestFileSystems: guestFiles)
            print("made a lab of \(vms) VM(s) with \(disksPerVM) disk(s) of \(diskSize) each in \(lab.root)")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the lab's VMs, disks and snapshots.")
        @Argument(help: "The lab's folder.") var directory: String
        @Flag(help: "Print JSON for scripts.") var json = false

        func run() async throws {
            let lab = try LabAdapter(root: directory)
            if json {
                print(try await LabView.make(lab).json())
                return
            }
            let inventory = try await lab.inventory()
            let folders = Dictionary(uniqueKeysWithValues: inventory.folders.map { ($0.id, $0.name) })
            let tags = Dictionary(uniqueKeysWithValues: inventory.tags.map { ($0.id, $0.name) })
            print("ID      NAME         FOLDER      HOST    TAGS    DISKS                      SNAPSHOTS")
            for vm in inventory.virtualMachines {
                let disks = vm.disks.map { "\($0.key):\($0.capacity >> 20)M" }.joined(separator: " ")
                let snapshots = try await lab.snapshots(of: vm.id).map(\.name).joined(separator: ", ")
                print(
                    [
                        vm.id.padding(toLength: 7, withPad: " ", startingAt: 0), vm.name.padding(toLength: 12, withPad: " ", startingAt: 0),
                        (folders[vm.folder] ?? vm.folder).padding(toLength: 11, withPad: " ", startingAt: 0),
                        vm.host.padding(toLength: 7, withPad: " ", startingAt: 0),
                        vm.tags.compactMap { tags[$0] }.joined(separator: ",").padding(toLength: 7, withPad: " ", startingAt: 0),
                        disks.padding(toLength: 26, withPad: " ", startingAt: 0), snapshots.isEmpty ? "-" : snapshots,
                    ].joined(separator: " "))
            }
            let faults = try lab.faults()
            if !faults.snapshotFailure.isEmpty || !faults.quiesceFailure.isEmpty {
                print("injected faults: snapshot \(faults.snapshotFailure.sorted()), quiesce \(faults.quiesceFailure.sorted())")
            }
        }
    }

    struct Mutate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rewrite a share of every disk's blocks, as guests' writes would (snapshots keep their view).")
        @Argument(help: "The lab's folder.") var directory: String
        @Option(help: "Percent of each disk's 64 KiB blocks to rewrite.") var percent: Double = 2
        @Flag(
            help: "Change, add and delete files in each VM's guest file system (lab create --guest-files) instead of rewriting blocks.")
        var files = false

        func run() throws {
            let lab = try LabAdapter(root: directory)
            guard files else {
                let written = try lab.mutate(percent: percent)
                print("rewrote \(written.values.map(\.count).reduce(0, +)) blocks of 64 KiB over \(written.count) disk(s)")
                return
            }
            let changes = try lab.mutateFiles()
            guard !changes.isEmpty else {
                throw CommandFailure("no VM of the lab \(directory) has a guest file system: make the lab with 'lab create --guest-files'")
            }
            for (vm, change) in changes.sorted(by: { $0.key < $1.key }) {
                print(vm)
                for path in change.changed { print("  ~ \(path)") }
                for path in change.added { print("  + \(path)") }
                for path in change.removed { print("  - \(path)") }
            }
        }
    }

    struct Inject: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a VM's snapshots fail, or its quiesced snapshots fail to quiesce (for tests and drills).")
        @Argument(help: "The lab's folder.") var directory: String
        @Option(help: "The VM's id (vm-1) or name (lab-vm-01).") var vm: String
        @Flag(name: .customLong("snapshot-failure")) var snapshotFailure = false
        @Flag(name: .customLong("quiesce-failure")) var quiesceFailure = false
        @Flag(help: "Remove the VM's injected faults.") var clear = false

        func validate() throws {
            guard [snapshotFailure, quiesceFailure, clear].filter({ $0 }).count == 1 else {
                throw ValidationError("choose one of --snapshot-failure, --quiesce-failure and --clear")
            }
        }

        func run() async throws {
            let lab = try LabAdapter(root: directory)
            let machines = try await lab.inventory().virtualMachines
            guard let machine = machines.first(where: { $0.id == vm || $0.name == vm }) else {
                throw CommandFailure(
                    UnknownName.message(
                        "VM", vm, relation: "has the name or id", known: machines.map(\.name), listCommand: "tidemark lab show \(directory)"
                    ))
            }
            var faults = try lab.faults()
            faults.snapshotFailure.remove(machine.id)
            faults.quiesceFailure.remove(machine.id)
            if snapshotFailure { faults.snapshotFailure.insert(machine.id) }
            if quiesceFailure { faults.quiesceFailure.insert(machine.id) }
            try lab.setFaults(faults)
            print(
                "\(machine.name): \(clear ? "no injected faults" : snapshotFailure ? "snapshots will fail" : "quiesced snapshots will fail")"
            )
        }
    }
}
