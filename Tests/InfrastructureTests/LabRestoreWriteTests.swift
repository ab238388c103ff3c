import Foundation
import Infrastructure
import Testing

/// A restore's writes into a lab disk reach the disk's change history even when the restore
/// dies before its next flush: announced writes are recorded before they land.
@Suite("The lab's change history under a restore's writes")
struct LabRestoreWriteTests {
    @Test("announced writes are recorded before any flush; unannounced ones at the flush; none lost when the sink is dropped")
    func announcedWrites() async throws {
        let folder = try LabTests.folder("lab-restore-writes")
        defer { try? FileManager.default.removeItem(at: folder) }
        let lab = try LabAdapter.create(at: folder.path, vms: 1, disksPerVM: 1, diskSize: 4 << 20)
        try await lab.powerOff(vm: "vm-1")
        var sink: (any BlockSink)? = try await lab.openDiskForWriting(vm: "vm-1", diskKey: 2000)
        let block = 64 << 10
        try await sink?.willWrite([DiskArea(offset: Int64(block), length: Int64(2 * block))])
        try await sink?.write(at: Int64(block), [UInt8](repeating: 7, count: 2 * block))
        // Killed here, before any flush: the writes are in the history already.
        #expect(
            try await lab.writtenSince(vm: "vm-1", diskKey: 2000, changeID: "-1") == [
                DiskArea(offset: Int64(block), length: Int64(2 * block))
            ])
        // A write nobody announced is recorded at the flush.
        try await sink?.write(at: Int64(10 * block), [UInt8](repeating: 9, count: block))
        try await sink?.flush()
        sink = nil
        #expect(
            try await lab.writtenSince(vm: "vm-1", diskKey: 2000, changeID: "-1") == [
                DiskArea(offset: Int64(block), length: Int64(2 * block)), DiskArea(offset: Int64(10 * block), length: Int64(block)),
            ])
        // Outside the disk: refused before anything is recorded.
        let again = try await lab.openDiskForWriting(vm: "vm-1", diskKey: 2000)
        await #expect(throws: InfrastructureError.self) { try await again.willWrite([DiskArea(offset: 4 << 20, length: 1)]) }
    }
}
