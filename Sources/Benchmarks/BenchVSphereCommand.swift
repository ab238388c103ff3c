import ArgumentParser
import CommandLineSupport
import Foundation
import Infrastructure
import Logging
import PrivateCluster
import VSphere

/// The vSphere adapter against govmomi's simulator: enumeration of a large inventory, snapshot
/// latency, and disk read throughput beside curl reading the same file from the same URL —
/// in 1 MiB blocks as a job with the default block size reads them, and in `--read-mib` ranges.
struct BenchVSphereCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vsphere",
        abstract:
            "The vSphere adapter against the vCenter simulator (Tools/vcsim): enumeration, snapshot latency, disk read throughput beside curl.",
        discussion: """
            Needs govmomi's vCenter simulator built for Tidemark, found in this order:
            --vcsim; Tools/vcsim/vcsim in the current folder or a folder above tidemark
            (a source folder: the script builds the simulator on first use);
            tidemark-vcsim on PATH ('Tools/vcsim/vcsim build' writes it to .build/vcsim/).
            curl reads the same disk as the reference.
            """
    )
    @Option(help: "VMs in the simulated inventory (10 clusters of 4 hosts).") var vms: Int = 10_000
    @Option(help: "Size of the disk read for throughput, in MiB.") var diskMib: Int = 512
    @Option(help: "Snapshot create+remove rounds.") var snapshots: Int = 20
    @Option(help: "Range reads in flight at once, for throughput.") var readers: Int = 2
    @Option(help: "Size of each range read, in MiB.") var readMib: Int = 4
    @Option(help: "The simulator: the script Tools/vcsim/vcsim, or a built tidemark-vcsim (default: looked for as said above).")
    var vcsim: String?
    @Flag(help: "Print {\"cases\":[...]} instead of a table.") var json = false

    func validate() throws {
        guard vms >= 10, vms % 10 == 0 else { throw ValidationError("--vms must be a multiple of 10 (10 clusters), not \(vms)") }
        guard (1...64).contains(readers), (1...64).contains(readMib) else {
            throw ValidationError("--readers and --read-mib must be between 1 and 64")
        }
        guard (1...8192).contains(diskMib) else { throw ValidationError("--disk-mib must be between 1 and 8192, not \(diskMib)") }
        if let vcsim, !FileManager.default.isExecutableFile(atPath: vcsim) {
            throw ValidationError("--vcsim \(vcsim) is not an executable file: give Tools/vcsim/vcsim or a built \(BenchSimulator.program)")
        }
    }

    func run() async throws {
        // The tools first, before minutes of simulator start-up.
        let launcher = try BenchSimulator.find(given: vcsim, executable: RunningProgram.url)
        guard let curl = executable(named: "curl") else {
            throw CommandFailure(
                "curl is not installed, and the vSphere bench measures its download of the same disk as the reference: apt-get install curl"
            )
        }
        let folder = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent(
            "tidemark-bench-vsphere-\(UUID().uuidString.prefix(8))")
        let big = try BenchSimulator.start(
            launcher, in: folder.appendingPathComponent("inventory"),
            ["-dc", "1", "-cluster", "10", "-host", "4", "-vm", "\(vms / 10)", "-fill=false"])
        defer { BenchSimulator.stop(launcher, big) }
        let adapter = VSphereAdapter(
            endpoint: VSphereEndpoint(url: big.url, user: "tidemark", password: "tidemark-test", thumbprint: try await thumbprint(big.url)))
        let clock = ContinuousClock()

        // Enumeration: connected first, so the figure is the inventory's own round trips.
        _ = try await adapter.inventory()
        let tripsBefore = adapter.client.roundTrips
        var start = clock.now
        let inventory = try await adapter.inventory()
        let enumeration = (clock.now - start).seconds
        let trips = adapter.client.roundTrips - tripsBefore
        guard inventory.virtualMachines.count == vms else {
            throw ValidationError("the simulator holds \(inventory.virtualMachines.count) VMs, not \(vms)")
        }
        start = clock.now
        let bare = try await adapter.client.names(of: "VirtualMachine")
        let bareSeconds = (clock.now - start).seconds
        let bareTrips = adapter.client.roundTrips - tripsBefore - trips
        guard bare.count == vms else { throw ValidationError("the bare retrieval found \(bare.count) VMs, not \(vms)") }

        // Snapshot create + remove, one VM after another.
        var snapshotTotal = 0.0
        var callTotal = 0.0
        for machine in inventory.virtualMachines.prefix(snapshots) {
            start = clock.now
            let made = try await adapter.createSnapshot(vm: machine.id, name: "tidemark-bench", description: "bench", quiesce: false)
            try await adapter.removeSnapshot(vm: machine.id, snapshot: made.id)
            snapshotTotal += (clock.now - start).seconds
            start = clock.now
            _ = try await adapter.client.currentTime()
            callTotal += (clock.now - start).seconds
        }
        let rounds = Double(min(snapshots, inventory.virtualMachines.count))

        // Throughput: one VM with one filled disk, through the adapter and through curl.
        let small = try BenchSimulator.start(
            launcher, in: folder.appendingPathComponent("disk"),
            ["-dc", "1", "-cluster", "1", "-host", "1", "-vm", "1", "-disks", "1", "-disk-kib", "\(diskMib * 1024)"])
        defer { BenchSimulator.stop(launcher, small) }
        let reader = VSphereAdapter(
            endpoint: VSphereEndpoint(
                url: small.url, user: "tidemark", password: "tidemark-test", thumbprint: try await thumbprint(small.url)))
        let machine = try await reader.inventory().virtualMachines.first.required("the disk simulator has no VM")
        let snapshot = try await reader.createSnapshot(vm: machine.id, name: "tidemark-bench", description: "bench", quiesce: false)
        // curl before and after the adapter's reads: the better run is the reference.
        let size = Int64(diskMib) << 20
        let curlBefore = try curlRate(curl, small.url, file: machine.disks[0].file, size: size)
        // The data mover's reads: 1 MiB blocks in order, as many in flight as its default parallelism.
        let jobReaders = max(2, ProcessInfo.processInfo.activeProcessorCount * 2)
        var rates: [Double] = []
        for (blockSize, parallel) in [(1 << 20, jobReaders), (readMib << 20, readers)] {
            let source = try await reader.openDisk(vm: machine.id, snapshot: snapshot.id, diskKey: machine.disks[0].key)
            start = clock.now
            try await Self.readAll(source, blockSize: blockSize, parallel: parallel)
            rates.append(Double(source.size) / (clock.now - start).seconds / 1_048_576)
        }
        let curlRate = max(curlBefore, try curlRate(curl, small.url, file: machine.disks[0].file, size: size))
        try await reader.removeSnapshot(vm: machine.id, snapshot: snapshot.id)

        BenchReport.print(
            [
                BenchCase(name: "enumeration of \(vms) VMs", value: enumeration, unit: "s", reference: bareSeconds),
                BenchCase(
                    name: "SOAP round trips per 1,000 VMs", value: Double(trips) / Double(vms) * 1_000, unit: "trips",
                    reference: Double(bareTrips) / Double(vms) * 1_000),
                BenchCase(
                    name: "snapshot create + remove per VM", value: snapshotTotal / rounds * 1_000, unit: "ms",
                    reference: callTotal / rounds * 1_000),
                BenchCase(
                    name: "disk read, 1 MiB blocks as a job reads (\(diskMib) MiB)", value: rates[0], unit: "MiB/s", reference: curlRate),
                BenchCase(name: "disk read, \(readMib) MiB ranges (\(diskMib) MiB)", value: rates[1], unit: "MiB/s", reference: curlRate),
            ],
            json: json,
            notes: [
                "govmomi vcsim over HTTPS (pinned thumbprint) on 127.0.0.1; \(vms) VMs in 10 clusters of 4 hosts",
                "enumeration: the adapter's whole inventory (containers, VMs with devices, tags), warm session; reference: the VMs' names alone, same paging",
                "snapshot reference: one SOAP call (CurrentTime) in the same session",
                "throughput: the adapter reads 1 MiB blocks, \(jobReaders) at a time (the data mover's default), then \(readMib) MiB ranges, \(readers) at a time, into memory, each through its own disk source with read-ahead; reference: the better of two curl runs reading the same flat extent, one stream, to /dev/null",
            ])
    }

    /// The simulator's self-signed certificate thumbprint, from the adapter's refusal of it.
    func thumbprint(_ url: String) async throws -> String {
        do {
            try await VSphereClient(endpoint: VSphereEndpoint(url: url, user: "tidemark", password: "tidemark-test")).connect()
        } catch {
            if let range = error.message.range(of: "[0-9A-F]{64}", options: .regularExpression) { return String(error.message[range]) }
            throw error
        }
        throw ValidationError("the simulator's certificate was trusted without a pin")
    }

    static func readAll(_ source: any BlockSource, blockSize: Int, parallel: Int) async throws {
        let blocks = Int((source.size + Int64(blockSize) - 1) / Int64(blockSize))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<parallel {
                group.addTask {
                    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: blockSize, alignment: 16)
                    defer { buffer.deallocate() }
                    var index = lane
                    while index < blocks {
                        let offset = Int64(index) * Int64(blockSize)
                        let length = Int(min(Int64(blockSize), source.size - offset))
                        try await source.read(at: offset, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<length]))
                        index += parallel
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// curl's own download rate of the flat extent, MiB/s.
    func curlRate(_ curl: String, _ url: String, file: String, size: Int64) throws -> Double {
        let base = url.hasSuffix("/sdk") ? String(url.dropLast(4)) : url
        let flat = (DatastorePath(file)?.path ?? "").replacingOccurrences(of: ".vmdk", with: "-flat.vmdk")
        let address = "\(base)/folder/\(flat)?dcPath=DC0&dsName=LocalDS_0"
        let output = try ToolRunner(runAsServerAccount: false).run(
            curl, ["-sk", "-o", "/dev/null", "-w", "%{size_download} %{time_total}", address])
        let fields = output.text.split(separator: " ").compactMap { Double($0) }
        guard output.status == 0, fields.count == 2, Int64(fields[0]) == size, fields[1] > 0 else {
            throw ValidationError("curl could not read \(address): \(output.text)")
        }
        return fields[0] / fields[1] / 1_048_576
    }
}

extension Optional {
    /// Unwraps, or throws a validation error saying what was missing.
    fileprivate func required(_ message: String) throws -> Wrapped {
        guard let self else { throw ValidationError(message) }
        return self
    }
}
