import Foundation
import Infrastructure
import TestSupport
import Testing

/// Lab disks that hold real guest file systems: a partition table and an ext4 partition with
/// files, read back with e2fsprogs' own `debugfs` (no mounting).
@Suite("The lab: disks with guest file systems")
struct LabGuestFilesTests {
    static func debugfs(_ request: String, _ image: String) throws -> (status: Int32, output: String) {
        let result = try Program.run("/usr/sbin/debugfs", ["-R", request, "\(image)?offset=\(1 << 20)"])
        return (result.status, result.output)
    }

    @Test("each VM's first disk holds an MBR and an ext4 partition with the generated files; the other disks hold generated data")
    func ext4Disks() async throws {
        let folder = try LabTests.folder("lab-guest-files")
        defer { try? FileManager.default.removeItem(at: folder) }
        let lab = try LabAdapter.create(at: folder.path, vms: 2, disksPerVM: 2, diskSize: 16 << 20, guestFileSystems: true)
        let inventory = try await lab.inventory()
        for machine in inventory.virtualMachines {
            let image = folder.appendingPathComponent("disks/\(machine.id)-2000.img").path
            let bytes = try Data(contentsOf: URL(fileURLWithPath: image)).prefix(512)
            #expect(bytes[510] == 0x55 && bytes[511] == 0xaa && bytes[446 + 4] == 0x83)
            let hosts = try Self.debugfs("cat /etc/hosts", image)
            #expect(hosts.status == 0 && hosts.output.contains("127.0.0.1 localhost"), "\(hosts.output)")
            let data = try Self.debugfs("ls -l /home/admin/data", image)
            #expect(data.output.contains("file-000.bin"), "\(data.output)")
            let other = try Self.debugfs("ls /", folder.appendingPathComponent("disks/\(machine.id)-2001.img").path)
            #expect(!other.output.contains("etc"))
        }
        #expect(throws: InfrastructureError.self) {
            try LabAdapter.create(
                at: folder.appendingPathComponent("small").path, vms: 1, disksPerVM: 1, diskSize: 4 << 20, guestFileSystems: true)
        }
    }
}
