import Foundation
import Infrastructure
import TestSupport
import Testing

/// Reading a restore point kept on the repository service without restoring it whole: its
/// guest files, and its disks over NBD.
extension ServiceRepositoryJobTests {
    @Test("guest files and a publish read a point kept on the service: the files as the guest had them, the disk over NBD byte-identical")
    func guestFilesAndPublish() async throws {
        let world = try await World.make(vms: 1, retention: "7 restore points", diskSize: 16 << 20, guestFiles: true)
        let environment = world.environment
        defer { world.stop() }
        let backup = try world.tidemark(["job", "start", environment.jobName])
        #expect(backup.status == 0, "\(backup.output)")
        let machine = try #require(try await LabAdapter(root: environment.labPath).inventory().virtualMachines.first)
        let disk = environment.labPath + "/disks/\(machine.id)-2000.img"

        // A file restored from the point on the service is the file in the guest's disk.
        let target = environment.folder.appendingPathComponent("restored")
        let restore = try world.tidemark([
            "files", "restore", "--vm", machine.name, "--path", "/etc/nginx/nginx.conf", "--to", target.path, "--reason", "drill",
        ])
        #expect(restore.status == 0, "\(restore.output)")
        #expect(
            try Data(contentsOf: target.appendingPathComponent("nginx.conf"))
                == GuestFilesTests.dump("/etc/nginx/nginx.conf", from: disk, in: environment.folder))

        // The point's disk published over NBD reads back as the VM's disk (nbdcopy, libnbd).
        let running = try RunningTidemark(
            [
                "publish", "--vm", machine.name, "--disk", "2000", "--listen", "127.0.0.1:0", "--reason", "drill", "--database-url",
                environment.databaseURL, "--data-dir", world.dataDirectory,
            ], in: environment.folder)
        #expect(try await running.waitFor(" serving "), "\(running.output)")
        let line = try #require(running.output.split(separator: "\n").first { $0.contains(" serving ") })
        let address = try #require(line.split(separator: " ").firstIndex(of: "on").map { line.split(separator: " ")[$0 + 1] })
        let copy = environment.folder.appendingPathComponent("published.img").path
        let copied = try await PublishTests.run("/usr/bin/nbdcopy", ["nbd://\(address)/disk-2000", copy])
        #expect(copied.status == 0, "\(copied.output)")
        #expect(try JobEnvironment.sha256(file: copy) == JobEnvironment.sha256(file: disk))
        let publish = try await environment.database.administratorQuery(
            "SELECT data->>'publish_id' FROM tidemark.events WHERE event_type = 'PublishRequested'"
        ).decode(0, 0, as: String.self)
        let stop = try world.tidemark(["publish", "stop", String(publish.prefix(8)), "--reason", "drill over"])
        #expect(stop.status == 0, "\(stop.output)")
        #expect(try await running.waitForExit() == 0, "\(running.output)")
    }
}
