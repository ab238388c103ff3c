import Foundation
import Testing

@testable import JobManager

/// A restore point as the guest sees it: partition tables and file systems read straight from
/// the chunks.
@Suite("Guest disks: partitions and file systems from the chunks", .timeLimit(.minutes(10)))
struct GuestDisksTests {
    @Test("a backed-up system disk shows its MBR and ext4 partition with its label; a data disk shows none; bad requests are refused")
    func partitionsOfAPoint() async throws {
        let environment = try await JobEnvironment.make(vms: 1, diskSize: 16 << 20, disksPerVM: 2, guestFiles: true)
        defer { environment.remove() }
        try await environment.runJob()
        let run = try environment.tidemark(["files", "partitions", "--vm", "lab-vm-01"])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("disk-2000 (16 MiB): MBR, 1 partition(s)"), "\(run.output)")
        #expect(run.output.contains("ext4") && run.output.contains("lab-root") && run.output.contains("readable"), "\(run.output)")
        #expect(run.output.contains("disk-2001 (16 MiB): no partition table"), "\(run.output)")
        let unknown = try environment.tidemark(["files", "partitions", "--vm", "lab-vm-01", "--disk", "2009"])
        #expect(unknown.status != 0 && unknown.output.contains("has no disk 2009: its disks are disk-2000, disk-2001"), "\(unknown.output)")
    }

    /// A disk of `sectors` with a protective MBR and a GPT of two partitions.
    static func gptDisk(sectors: Int) -> [UInt8] {
        var disk = [UInt8](repeating: 0, count: sectors * 512)
        disk[446 + 4] = 0xee
        disk[446 + 8] = 1
        disk[510] = 0x55
        disk[511] = 0xaa
        func put64(_ value: UInt64, _ at: Int) { for byte in 0..<8 { disk[at + byte] = UInt8((value >> (8 * UInt64(byte))) & 0xff) } }
        func put32(_ value: UInt32, _ at: Int) { for byte in 0..<4 { disk[at + byte] = UInt8((value >> (8 * UInt32(byte))) & 0xff) } }
        disk.replaceSubrange(512..<520, with: Array("EFI PART".utf8))
        put64(2, 512 + 72)
        put32(128, 512 + 80)
        put32(128, 512 + 84)
        // Entry 1: Linux file system data (0FC63DAF-8483-4772-8E79-3D69D8477DE4), sectors 2048-4095, "root".
        let linux: [UInt8] = [0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47, 0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4]
        disk.replaceSubrange(1024..<1040, with: linux)
        put64(2048, 1024 + 32)
        put64(4095, 1024 + 40)
        for (index, unit) in "root".utf16.enumerated() { disk[1024 + 56 + index * 2] = UInt8(unit) }
        // Entry 2: sectors 4096-6143, no name; an XFS superblock at its start.
        disk.replaceSubrange(1152..<1168, with: linux)
        put64(4096, 1152 + 32)
        put64(6143, 1152 + 40)
        disk.replaceSubrange((4096 * 512)..<(4096 * 512 + 4), with: Array("XFSB".utf8))
        return disk
    }

    @Test("a GPT is read from its header and entries; an XFS partition is named and not read; damaged tables are refused")
    func gpt() throws {
        let disk = Self.gptDisk(sectors: 8_192)
        func read(_ offset: Int64, _ count: Int) -> [UInt8] { Array(disk[Int(offset)..<min(disk.count, Int(offset) + count)]) }
        let table = try #require(try PartitionTable.read(size: Int64(disk.count), read))
        #expect(table.scheme == .gpt && table.partitions.count == 2)
        #expect(table.partitions[0].offset == 1 << 20 && table.partitions[0].length == 1 << 20)
        #expect(table.partitions[0].type == "0FC63DAF-8483-4772-8E79-3D69D8477DE4" && table.partitions[0].name == "root")
        let xfs = FileSystemProbe.probe(read(table.partitions[1].offset, 68 << 10))
        #expect(xfs.type == "xfs" && !xfs.readable)
        #expect(FileSystemProbe.probe([UInt8](repeating: 0, count: 70_000)).type == nil)
        // A partition past the end of the disk, a missing header: refused, saying so.
        #expect(throws: PartitionError.self) { try PartitionTable.read(size: 4_096 * 512, read) }
        var broken = disk
        broken.replaceSubrange(512..<520, with: [UInt8](repeating: 0, count: 8))
        #expect(throws: PartitionError.self) {
            try PartitionTable.read(size: Int64(broken.count)) { offset, count in Array(broken[Int(offset)..<(Int(offset) + count)]) }
        }
        #expect(try PartitionTable.read(size: 1_024) { _, count in [UInt8](repeating: 0, count: count) } == nil)
        // Hostile numbers (a guest writes them): refused, never a trap.
        for (offset, value) in [(512 + 72, UInt64.max), (1024 + 40, UInt64.max), (1024 + 32, UInt64(1) << 62)] {
            var hostile = disk
            for byte in 0..<8 { hostile[offset + byte] = UInt8((value >> (8 * UInt64(byte))) & 0xff) }
            #expect(throws: PartitionError.self) {
                try PartitionTable.read(size: Int64(hostile.count)) { at, count in
                    Array(hostile[Int(at)..<min(hostile.count, Int(at) + count)])
                }
            }
        }
        // A whole-disk NTFS volume ends its boot sector in 0x55AA too: no partition table.
        var ntfs = [UInt8](repeating: 0, count: 4_096)
        ntfs.replaceSubrange(3..<11, with: Array("NTFS    ".utf8))
        ntfs[446] = 0x33
        ntfs[510] = 0x55
        ntfs[511] = 0xaa
        #expect(try PartitionTable.read(size: 4_096) { at, count in Array(ntfs[Int(at)..<(Int(at) + count)]) } == nil)
        #expect(FileSystemProbe.probe(ntfs + [UInt8](repeating: 0, count: 70_000)).type == "ntfs")
    }
}
