import Foundation
import Infrastructure
import TestSupport
import Testing

/// Instant access: a restore point served over NBD and read by real clients (libnbd's
/// `nbdinfo` and `nbdcopy`, `qemu-img`), each publish a session with its clients and figures.
@Suite("Publish: restore points over NBD", .timeLimit(.minutes(10)))
struct PublishTests {
    /// A program's exit status and what it printed (standard output and error).
    static func run(_ program: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await offThePool {
            let result = try Program.run(program, arguments)
            return (result.status, result.output)
        }
    }

    /// `tidemark publish ...` left serving; its address once it printed it.
    static func publish(_ arguments: [String], in environment: JobEnvironment) async throws -> (RunningTidemark, String) {
        let running = try RunningTidemark(
            ["publish"] + arguments + ["--database-url", environment.databaseURL], in: environment.folder)
        guard try await running.waitFor(" serving ") else { throw TestSetupError("tidemark publish did not start:\n\(running.output)") }
        let line = try #require(running.output.split(separator: "\n").first { $0.contains(" serving ") })
        let address = try #require(line.split(separator: " ").firstIndex(of: "on").map { line.split(separator: " ")[$0 + 1] })
        return (running, String(address))
    }

    static func events(_ environment: JobEnvironment) async throws -> [String] {
        let rows = try await environment.database.administratorQuery(
            "SELECT event_type FROM tidemark.events WHERE category = 'publish' ORDER BY position")
        return try (0..<rows.rowCount).map { try rows.decode($0, 0, as: String.self) }
    }

    @Test(
        "a published point reads back as the disks at backup time (nbdcopy, qemu-img compare); refusals are answered and serving goes on; the stop is recorded with what was served"
    )
    func publishAndRead() async throws {
        let environment = try await RestoreTests.backedUp(vms: 1)
        defer { environment.remove() }
        let machine = try #require(try await RestoreTests.machine(named: "lab-vm-01", in: environment))
        let (running, address) = try await Self.publish(
            ["--vm", "lab-vm-01", "--listen", "127.0.0.1:0", "--reason", "instant access drill", "--actor", "alice"], in: environment)

        let list = try await Self.run("/usr/bin/nbdinfo", ["--list", "nbd://\(address)"])
        #expect(list.status == 0 && list.output.contains("disk-2000") && list.output.contains("disk-2001"), "\(list.output)")
        for disk in machine.disks {
            let copy = environment.folder.appendingPathComponent("copy-\(disk.key).img").path
            let copied = try await Self.run("/usr/bin/nbdcopy", ["nbd://\(address)/disk-\(disk.key)", copy])
            #expect(copied.status == 0, "\(copied.output)")
            #expect(
                try JobEnvironment.sha256(file: copy)
                    == JobEnvironment.sha256(file: RestoreTests.diskFile(machine, disk.key, in: environment)))
            let compared = try await Self.run(
                "/usr/bin/qemu-img",
                [
                    "compare", "-f", "raw", "-F", "raw", "nbd://\(address)/disk-\(disk.key)",
                    RestoreTests.diskFile(machine, disk.key, in: environment),
                ])
            #expect(compared.status == 0 && compared.output.contains("Images are identical"), "\(compared.output)")
        }
        // An export that does not exist, a write to a read-only export: refused; the server serves on.
        let unknown = try await Self.run("/usr/bin/nbdinfo", ["nbd://\(address)/disk-9"])
        #expect(unknown.status != 0, "\(unknown.output)")
        let write = try await Self.run("/usr/bin/qemu-io", ["-f", "raw", "-c", "write -P 7 0 4k", "nbd://\(address)/disk-2000"])
        #expect(write.status != 0 || write.output.lowercased().contains("read-only") || write.output.contains("denied"), "\(write.output)")
        let again = try await Self.run("/usr/bin/nbdinfo", ["--size", "nbd://\(address)/disk-2000"])
        #expect(again.status == 0 && again.output.trimmingCharacters(in: .whitespacesAndNewlines) == "\(4 << 20)", "\(again.output)")

        let listed = try environment.tidemark(["publish", "list"])
        #expect(listed.output.contains("lab-vm-01") && listed.output.contains("serving"), "\(listed.output)")
        // Two publishes on one address: the second is refused, nothing recorded for it.
        let before = try await Self.events(environment).count
        let second = try environment.tidemark(["publish", "--vm", "lab-vm-01", "--listen", address])
        #expect(second.status != 0 && second.output.contains("cannot listen on \(address)"), "\(second.output)")
        #expect(try await Self.events(environment).count == before)

        let publish = try await environment.database.administratorQuery(
            "SELECT data->>'publish_id' FROM tidemark.events WHERE event_type = 'PublishRequested'"
        ).decode(0, 0, as: String.self)
        let stop = try environment.tidemark(["publish", "stop", String(publish.prefix(8)), "--reason", "drill over"])
        #expect(stop.status == 0 && stop.output.contains("stopped by"), "\(stop.output)")
        #expect(try await running.waitForExit() == 0, "\(running.output)")
        let types = try await Self.events(environment)
        #expect(
            types.first == "PublishRequested" && types.dropFirst().first == "PublishStarted" && types.last == "PublishStopped", "\(types)")
        #expect(types.contains("PublishClientConnected") && types.contains("PublishStopRequested"))
        let stopped = try await environment.database.administratorQuery(
            "SELECT (data->>'bytes_read')::bigint, data->>'reason', metadata->>'actor' FROM tidemark.events WHERE event_type = 'PublishStopped'"
        )
        #expect(try stopped.decode(0, 0, as: Int64.self) >= 2 * (4 << 20))
        #expect(try stopped.decode(0, 1, as: String.self).contains("drill over"))
        let requestedBy = try await environment.database.administratorQuery(
            "SELECT metadata->>'actor', data->>'reason' FROM tidemark.events WHERE event_type = 'PublishRequested'")
        #expect(
            try requestedBy.decode(0, 0, as: String.self).hasPrefix("alice (cli:")
                && requestedBy.decode(0, 1, as: String.self) == "instant access drill")
        #expect(try environment.tidemark(["publish", "list"]).output.contains("no publish is being served"))
        let verify = try environment.tidemark(["projections", "verify"])
        #expect(verify.status == 0, "\(verify.output)")
        let row = try await environment.database.administratorQuery(
            "SELECT requested_by, reason_given, state, bytes_read, stopped_by, vm_name, array_to_string(disks, ',') FROM reporting.publishes"
        )
        #expect(row.rowCount == 1)
        #expect(
            try row.decode(0, 0, as: String.self).hasPrefix("alice (cli:") && row.decode(0, 1, as: String.self) == "instant access drill")
        #expect(try row.decode(0, 2, as: String.self) == "stopped" && row.decode(0, 3, as: Int64.self) >= 2 * (4 << 20))
        #expect(try row.decode(0, 4, as: String.self).hasPrefix("cli:") && row.decode(0, 5, as: String.self) == "lab-vm-01")
        #expect(try row.decode(0, 6, as: String.self) == "disk-2000,disk-2001")
        let sessions = try environment.tidemark(["session", "list"])
        #expect(sessions.output.contains("publish: lab-vm-01 ") && sessions.output.contains("stopped"), "\(sessions.output)")
        let shown = try environment.tidemark(["session", "show", String(publish.prefix(8))])
        #expect(shown.output.contains("publish \(publish) (read-only)") && shown.output.contains("drill over"), "\(shown.output)")
    }

    @Test("bad publishes are refused with the choices and record nothing; a killed publish is recorded stopped by 'publish stop'")
    func refusalsAndKilled() async throws {
        let environment = try await RestoreTests.backedUp(vms: 1)
        defer { environment.remove() }
        for (arguments, expected) in [
            (["--vm", "nope"], "nope"),
            (["--vm", "lab-vm-01", "--disk", "2009"], "has no disk 2009: its disks are disk-2000, disk-2001"),
            (["--vm", "lab-vm-01", "--listen", "localhost"], "is not an address to listen on"),
            (["--vm", "lab-vm-01", "--listen", "example.invalid:10809"], "is not an IP address to listen on"),
        ] {
            let refused = try environment.tidemark(["publish"] + arguments)
            #expect(refused.status != 0 && refused.output.contains(expected), "\(arguments): \(refused.output)")
        }
        #expect(try await Self.events(environment).isEmpty)

        let socket = environment.folder.appendingPathComponent("nbd.sock").path
        let (running, address) = try await Self.publish(["--vm", "lab-vm-01", "--disk", "2001", "--socket", socket], in: environment)
        #expect(address == socket)
        let size = try await Self.run("/usr/bin/nbdinfo", ["--size", "nbd+unix:///disk-2001?socket=\(socket)"])
        #expect(size.status == 0 && size.output.contains("\(4 << 20)"), "\(size.output)")
        running.signal(SIGKILL)
        _ = try await running.waitForExit()
        let listed = try environment.tidemark(["publish", "list"])
        #expect(listed.output.contains("not served"), "\(listed.output)")
        let publish = try await environment.database.administratorQuery(
            "SELECT data->>'publish_id' FROM tidemark.events WHERE event_type = 'PublishRequested'"
        ).decode(0, 0, as: String.self)
        let stop = try environment.tidemark(["publish", "stop", publish, "--actor", "bob"])
        #expect(stop.status == 0 && stop.output.contains("no process was serving it"), "\(stop.output)")
        let stopped = try await environment.database.administratorQuery(
            "SELECT metadata->>'actor' FROM tidemark.events WHERE event_type = 'PublishStopped'")
        #expect(try stopped.decode(0, 0, as: String.self).hasPrefix("bob (cli:"))
        // The killed publish left its socket file: a new publish on the path replaces it, and
        // a clean stop removes it.
        let (again, _) = try await Self.publish(["--vm", "lab-vm-01", "--socket", socket], in: environment)
        let sized = try await Self.run("/usr/bin/nbdinfo", ["--size", "nbd+unix:///disk-2000?socket=\(socket)"])
        #expect(sized.status == 0, "\(sized.output)")
        again.signal(SIGTERM)
        #expect(try await again.waitForExit() == 0, "\(again.output)")
        #expect(!FileManager.default.fileExists(atPath: socket))
        let interrupted = try await environment.database.administratorQuery(
            "SELECT data->>'reason' FROM tidemark.events WHERE event_type = 'PublishStopped' ORDER BY position DESC LIMIT 1")
        #expect(try interrupted.decode(0, 0, as: String.self).hasPrefix("interrupted"))
        let unknown = try environment.tidemark(["publish", "stop", "ffff"])
        #expect(
            unknown.status != 0 && unknown.output.contains("no publish being served has an id starting with 'ffff'"), "\(unknown.output)")
    }

    /// Every file of a folder and its SHA-256: what "unchanged" means for a repository.
    static func digest(_ folder: String) throws -> [String: String] {
        var files: [String: String] = [:]
        let enumerator = FileManager.default.enumerator(atPath: folder)
        while let path = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            let full = (folder as NSString).appendingPathComponent(path)
            if FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue {
                files[path] = try JobEnvironment.sha256(file: full)
            }
        }
        return files
    }

    @Test(
        "a writable publish takes writes into its overlay (read back, partial sectors kept whole), never into the repository; the overlay is discarded or kept at the stop"
    )
    func writable() async throws {
        let environment = try await RestoreTests.backedUp(vms: 1)
        defer { environment.remove() }
        let machine = try #require(try await RestoreTests.machine(named: "lab-vm-01", in: environment))
        let source = try Data(contentsOf: URL(fileURLWithPath: RestoreTests.diskFile(machine, 2000, in: environment)))
        let repositoryBefore = try Self.digest(environment.repositoryPath)
        let overlays = environment.folder.appendingPathComponent("overlays").path
        let inside = try environment.tidemark([
            "publish", "--vm", "lab-vm-01", "--writable", "--overlay-folder", environment.repositoryPath + "/scratch",
        ])
        #expect(inside.status != 0 && inside.output.contains("is inside the repository"), "\(inside.output)")

        for keep in [false, true] {
            let (running, address) = try await Self.publish(
                ["--vm", "lab-vm-01", "--listen", "127.0.0.1:0", "--writable", "--overlay-folder", overlays]
                    + (keep ? ["--keep-overlay"] : []),
                in: environment)
            let url = "nbd://\(address)/disk-2000"
            let write = try await Self.run("/usr/bin/qemu-io", ["-f", "raw", "-c", "write -P 7 512 4k", url])
            #expect(write.status == 0 && !write.output.contains("failed"), "\(write.output)")
            let copy = environment.folder.appendingPathComponent("written.img").path
            try? FileManager.default.removeItem(atPath: copy)
            let copied = try await Self.run("/usr/bin/nbdcopy", [url, copy])
            #expect(copied.status == 0, "\(copied.output)")
            var expected = source
            expected.replaceSubrange(512..<(512 + 4_096), with: [UInt8](repeating: 7, count: 4_096))
            #expect(try Data(contentsOf: URL(fileURLWithPath: copy)) == expected)
            let publish = try await environment.database.administratorQuery(
                "SELECT data->>'publish_id' FROM tidemark.events WHERE event_type = 'PublishRequested' ORDER BY position DESC LIMIT 1"
            ).decode(0, 0, as: String.self)
            #expect(try environment.tidemark(["publish", "stop", publish]).status == 0)
            #expect(try await running.waitForExit() == 0, "\(running.output)")
            let folder = (overlays as NSString).appendingPathComponent(publish)
            #expect(FileManager.default.fileExists(atPath: folder) == keep)
            let kept = try await environment.database.administratorQuery(
                "SELECT data->>'overlay_kept', (data->>'bytes_written')::bigint FROM tidemark.events WHERE event_type = 'PublishStopped' AND stream_id = (SELECT stream_id FROM tidemark.events WHERE data->>'publish_id' = $1 LIMIT 1)",
                [publish])
            #expect(try kept.decodeIfPresent(0, 0, as: String.self) == (keep ? folder : nil))
            #expect(try kept.decode(0, 1, as: Int64.self) == 4_096)
            // Migrate: the disk restored to a file with the overlay's writes over it equals what
            // the client saw; without a kept overlay the restore is refused, nothing recorded.
            let migrated = environment.folder.appendingPathComponent("migrated-\(keep).img").path
            let restoresBefore = try await RestoreTests.restoreEvents(environment)
            let migrate = try environment.tidemark([
                "restore", "disk", "--from-publish", String(publish.prefix(8)), "--disk", "2000", "--to", migrated,
            ])
            if keep {
                #expect(migrate.status == 0, "\(migrate.output)")
                #expect(try Data(contentsOf: URL(fileURLWithPath: migrated)) == expected)
            } else {
                #expect(migrate.status != 0 && migrate.output.contains("kept no overlay"), "\(migrate.output)")
                #expect(try await RestoreTests.restoreEvents(environment) == restoresBefore)
            }
        }
        #expect(try Self.digest(environment.repositoryPath) == repositoryBefore)
    }

    @Test("retention keeps a published restore point, recording that it waited, and removes it once the publish stopped")
    func retentionWaits() async throws {
        let environment = try await JobEnvironment.make(vms: 1, diskSize: 1 << 20, retention: "3 restore points", twoPersonApproval: false)
        defer { environment.remove() }
        for _ in 0..<3 { try await environment.runJob() }
        let first = try await environment.database.administratorQuery(
            "SELECT data->>'restore_point_id' FROM tidemark.events WHERE event_type = 'RestorePointCreated' ORDER BY position LIMIT 1"
        ).decode(0, 0, as: String.self)
        let (running, address) = try await Self.publish(
            ["--vm", "lab-vm-01", "--point", first, "--listen", "127.0.0.1:0"], in: environment)
        try await environment.runJob()
        let deferred = try await environment.database.administratorQuery(
            "SELECT data->>'reason' FROM tidemark.events WHERE event_type = 'RetentionDeferred' AND data->>'restore_point_id' = $1", [first]
        )
        #expect(deferred.rowCount == 1)
        #expect(try deferred.decode(0, 0, as: String.self).contains("kept while published"))
        let removedEarly = try await environment.database.administratorQuery(
            "SELECT count(*) FROM tidemark.events WHERE event_type = 'RestorePointRemoved' AND data->>'restore_point_id' = $1", [first])
        #expect(try removedEarly.decode(0, 0, as: Int64.self) == 0)
        let copy = environment.folder.appendingPathComponent("still.img").path
        #expect(try await Self.run("/usr/bin/nbdcopy", ["nbd://\(address)/disk-2000", copy]).status == 0)
        running.signal(SIGINT)
        #expect(try await running.waitForExit() == 0)
        try await environment.runJob()
        let removed = try await environment.database.administratorQuery(
            "SELECT count(*) FROM tidemark.events WHERE event_type = 'RestorePointRemoved' AND data->>'restore_point_id' = $1", [first])
        #expect(try removed.decode(0, 0, as: Int64.self) == 1)
    }

    @Test(
        "a running server serves again, on the same address, a writable publish whose process was killed, its overlay intact; a stop then ends it"
    )
    func serverResumes() async throws {
        let environment = try await RestoreTests.backedUp(vms: 1)
        defer { environment.remove() }
        let overlays = environment.folder.appendingPathComponent("overlays").path
        let (killed, address) = try await Self.publish(
            ["--vm", "lab-vm-01", "--listen", "127.0.0.1:0", "--writable", "--overlay-folder", overlays], in: environment)
        let url = "nbd://\(address)/disk-2001"
        // Written and flushed (qemu-io flushes when it closes): it must survive the crash.
        let write = try await Self.run("/usr/bin/qemu-io", ["-f", "raw", "-c", "write -P 9 8k 4k", url])
        #expect(write.status == 0, "\(write.output)")
        killed.signal(SIGKILL)
        _ = try await killed.waitForExit()
        let server = try RunningTidemark(
            ["server", "run", "--listen", "none", "--database-url", environment.databaseURL, "-v"], in: environment.folder)
        var served = false
        for _ in 0..<100 where !served {
            served = try await Self.run("/usr/bin/nbdinfo", ["--size", url]).status == 0
            if !served { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(served, "\(server.output)")
        let read = try await Self.run("/usr/bin/qemu-io", ["-f", "raw", "-c", "read -P 9 8k 4k", url])
        #expect(read.status == 0 && !read.output.contains("Pattern verification failed"), "\(read.output)")
        let resumed = try await environment.database.administratorQuery(
            "SELECT count(*) FROM tidemark.events WHERE event_type = 'PublishStarted' AND (data->>'resumed')::boolean")
        #expect(try resumed.decode(0, 0, as: Int64.self) == 1)
        let publish = try await environment.database.administratorQuery(
            "SELECT data->>'publish_id' FROM tidemark.events WHERE event_type = 'PublishRequested'"
        ).decode(0, 0, as: String.self)
        let stop = try environment.tidemark(["publish", "stop", publish])
        #expect(stop.status == 0 && stop.output.contains("stopped by"), "\(stop.output)")
        server.signal(SIGTERM)
        _ = try await server.waitForExit()
        #expect(!FileManager.default.fileExists(atPath: (overlays as NSString).appendingPathComponent(publish)))
    }
}
