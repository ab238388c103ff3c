import Crypto
import Foundation
import Infrastructure
import Repository
import TestSupport
import Testing

@testable import VSphere

@Suite("Changed block tracking against the simulator: incrementals read what was written, a reset reads everything")
struct ChangedBlockTests {
    static let mebibyte = 1 << 20

    @Test(
        "writes between backups are all an incremental reads; a CBT reset or CBT turned off reads whole disks with a warning; every disk restores to the datastore's bytes"
    )
    func incrementalsReadChangedBlocks() async throws {
        // Two VMs of two 4 MiB disks; QueryChangedDiskAreas answers 1 MiB at a time, so the adapter pages.
        let simulator = try Simulator.start([
            "-dc", "1", "-cluster", "1", "-host", "1", "-vm", "2", "-disks", "2", "-disk-kib", "4096", "-cbt-window-kib", "1024",
        ])
        defer { simulator.stop() }
        let machines = simulator.manifest.virtualMachines
        try #require(machines.count == 2 && machines.allSatisfy { $0.disks.count == 2 })
        let (a, b) = (machines[0], machines[1])
        let world = try await VCenterWorld.make(simulator: simulator, objects: ["datacenter:DC0"])
        let session = SessionProbe(world: world, simulator: simulator)

        let first = try await session.run()
        #expect(
            first.transfers.count == 4 && first.transfers.values.allSatisfy { $0.mode == "full" && $0.warning == nil }, "\(first.transfers)"
        )
        try await session.expectRestoresMatch(first)

        // Known writes: inside block 1 and block 3 of A's first disk; across the boundary of
        // blocks 1 and 2 of B's first disk. The second disks are not written.
        try simulator.write(Array(repeating: 0xA5, count: 65_536), at: Int64(Self.mebibyte + 100 * 1024), disk: a.disks[0], of: a)
        try simulator.write(Array("tidemark".utf8), at: Int64(3 * Self.mebibyte + 10), disk: a.disks[0], of: a)
        try simulator.write(Array(repeating: 0x5A, count: 20 * 1024), at: Int64(2 * Self.mebibyte - 10 * 1024), disk: b.disks[0], of: b)
        let second = try await session.run()
        #expect(
            second.bytesRead == [
                "\(a.id)/\(a.disks[0].key)": Int64(2 * Self.mebibyte), "\(a.id)/\(a.disks[1].key)": 0,
                "\(b.id)/\(b.disks[0].key)": Int64(2 * Self.mebibyte), "\(b.id)/\(b.disks[1].key)": 0,
            ])
        #expect(second.transfers.values.allSatisfy { $0.mode == "incremental" && $0.warning == nil }, "\(second.transfers)")
        try await session.expectRestoresMatch(second)

        // A CBT reset on A (off, then on): vCenter refuses the earlier change id; A is read whole.
        let adapter = try await simulator.adapter()
        try await adapter.setChangeTracking(false, vm: a.id)
        try await adapter.setChangeTracking(true, vm: a.id)
        let third = try await session.run()
        for disk in a.disks {
            let transfer = try #require(third.transfers["\(a.id)/\(disk.key)"])
            #expect(transfer.mode == "full" && third.bytesRead["\(a.id)/\(disk.key)"] == disk.capacity)
            #expect(
                transfer.warning?.contains("refused the change id") == true && transfer.warning?.contains("reset") == true, "\(transfer)")
        }
        for disk in b.disks {
            #expect(third.transfers["\(b.id)/\(disk.key)"]?.mode == "incremental" && third.bytesRead["\(b.id)/\(disk.key)"] == 0)
        }
        // The fallback is the session's warning, with the reason on A.
        let finished = try await world.database.administratorQuery(
            "SELECT data->>'result', data->>'reason' FROM tidemark.events WHERE event_type = 'SessionFinished' ORDER BY position DESC LIMIT 1"
        )
        #expect(try finished.decode(0, 0, as: String.self) == "warning")
        #expect(try finished.decode(0, 1, as: String.self).contains("refused the change id"))
        try await session.expectRestoresMatch(third)

        // CBT off on B: its snapshot has no change ids, so the earlier one cannot be compared
        // with it; and the session after has no change id to start from. Both read B whole.
        try await adapter.setChangeTracking(false, vm: b.id)
        try simulator.write(Array(repeating: 0x11, count: 4096), at: 0, disk: a.disks[1], of: a)
        for (round, expected) in [(4, "refused the change id"), (5, "has no change id")] {
            let run = try await session.run()
            for disk in b.disks {
                let transfer = try #require(run.transfers["\(b.id)/\(disk.key)"])
                #expect(transfer.mode == "full" && run.bytesRead["\(b.id)/\(disk.key)"] == disk.capacity, "session \(round): \(transfer)")
                #expect(transfer.warning?.contains(expected) == true, "session \(round): \(transfer)")
            }
            #expect(run.bytesRead["\(a.id)/\(a.disks[1].key)"] == (round == 4 ? Int64(Self.mebibyte) : 0), "session \(round)")
            #expect(run.transfers["\(a.id)/\(a.disks[0].key)"]?.warning == nil, "session \(round)")
            try await session.expectRestoresMatch(run)
        }
    }
}

/// Runs the job's sessions and reads back what each did, from its events.
struct SessionProbe {
    let world: VCenterWorld
    let simulator: Simulator

    struct Transfer: Sendable, CustomStringConvertible {
        let mode: String
        let warning: String?
        var description: String { "\(mode)" + (warning.map { " (\($0))" } ?? "") }
    }

    struct Outcome: Sendable {
        /// The last plan of each task (`vm-42/2000`).
        var transfers: [String: Transfer] = [:]
        /// Bytes each task read, from its TransferFinished.
        var bytesRead: [String: Int64] = [:]
        /// Restore point of each VM.
        var restorePoints: [String: String] = [:]
    }

    func run() async throws -> Outcome {
        let run = try world.tidemark(
            ["job", "start", "vc-job", "--quiet"], environment: [BackupJobTests.passwordVariable: Simulator.password])
        #expect(run.status == 0, "\(run.output)")
        let rows = try await world.database.administratorQuery(
            """
            SELECT event_type, data->>'task_id', data->>'mode', data->>'warning', data->>'bytes_read', data->>'vm_id', data->>'restore_point_id'
            FROM tidemark.events
            WHERE stream_id = (SELECT stream_id FROM tidemark.events WHERE event_type = 'SessionStarted' ORDER BY position DESC LIMIT 1)
              AND event_type IN ('TransferStarted', 'TransferFinished', 'RestorePointCreated')
            ORDER BY position
            """)
        var outcome = Outcome()
        for row in 0..<rows.rowCount {
            switch try rows.decode(row, 0, as: String.self) {
            case "TransferStarted":
                outcome.transfers[try rows.decode(row, 1)] = Transfer(
                    mode: try rows.decode(row, 2), warning: try rows.decodeIfPresent(row, 3))
            case "TransferFinished":
                outcome.bytesRead[try rows.decode(row, 1)] = Int64(try rows.decode(row, 4, as: String.self))
            default:
                outcome.restorePoints[try rows.decode(row, 5)] = try rows.decode(row, 6)
            }
        }
        return outcome
    }

    /// Every disk of every VM restores from the session's restore point to its flat extent's bytes.
    func expectRestoresMatch(_ outcome: Outcome) async throws {
        let repository = try BackupRepository.open(at: world.repository)
        #expect(outcome.restorePoints.count == simulator.manifest.virtualMachines.count)
        for machine in simulator.manifest.virtualMachines {
            let point = try #require(outcome.restorePoints[machine.id])
            for disk in machine.disks {
                let target = world.folder.appendingPathComponent("restore-\(machine.id)-\(disk.key).img")
                try DiskRestore.restore(
                    try repository.manifest(restorePoint: point, disk: "disk-\(disk.key)"), from: repository, to: target.path,
                    overwrite: true)
                let expected = try Data(contentsOf: simulator.flatExtent(disk, of: machine))
                #expect(
                    SHA256.hash(data: try Data(contentsOf: target)) == SHA256.hash(data: expected),
                    "\(machine.name) disk \(disk.key) from \(point)")
            }
        }
    }
}

extension Simulator {
    /// The local file holding a disk's bytes.
    func flatExtent(_ disk: Manifest.Disk, of machine: Manifest.Machine) throws -> URL {
        try localFile(datacenter: machine.datacenter, disk.file.replacingOccurrences(of: ".vmdk", with: "-flat.vmdk"))
    }

    /// Writes into a disk's flat extent, as the guest would between two backups.
    func write(_ bytes: [UInt8], at offset: Int64, disk: Manifest.Disk, of machine: Manifest.Machine) throws {
        let handle = try FileHandle(forWritingTo: try flatExtent(disk, of: machine))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(offset))
        try handle.write(contentsOf: Data(bytes))
    }
}

extension VSphereAdapter {
    /// Turns changed block tracking on or off (`ReconfigVM_Task`); off and on again resets it.
    func setChangeTracking(_ enabled: Bool, vm: String) async throws {
        try await connect()
        let response = try await client.call(
            "ReconfigVM_Task", this: Self.machine(vm), "<spec><changeTrackingEnabled>\(enabled)</changeTrackingEnabled></spec>")
        let task = try #require(ManagedObjectReference(response["returnval"]))
        _ = try await client.waitForTask(task, doing: "CBT \(enabled ? "on" : "off") for \(vm)")
    }
}
