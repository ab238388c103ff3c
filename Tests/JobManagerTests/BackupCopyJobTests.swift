import Foundation
import Infrastructure
import JobManager
import TestSupport
import Testing

/// Backup copy jobs across hosts: the backup job writes to a folder on the backup server,
/// the copy job puts a second copy on the repository service in another namespace.
extension ServiceRepositoryJobTests {
    @Test(
        "a copy job copies each VM's new restore point to the service, verified there and flagged GFS; a copy the service cannot verify is not recorded, and the next copy heals it"
    )
    func copyJob() async throws {
        let world = try await World.make(vms: 2, retention: "3 restore points", repository: "offsite")
        let environment = world.environment
        defer { world.stop() }
        let database = environment.database
        func count(_ sql: String) async throws -> Int64 { try await database.administratorQuery(sql).decode(0, 0, as: Int64.self) }
        let eventsBefore = try await environment.eventCount()

        // Refused, with the reason, and nothing recorded.
        let same = try world.tidemark(["job", "add", "copy-here", "--copy-of", environment.jobName, "--repository", "repo"])
        #expect(same.status != 0 && same.output.contains("a copy there is no second copy"), "\(same.output)")
        let typo = try world.tidemark([
            "job", "add", "offsite-copy", "--copy-of", environment.jobName, "--repository", "offsite", "--gfs", "weekly 4, montly 12",
        ])
        #expect(typo.status != 0 && typo.output.contains("did you mean 'monthly'"), "\(typo.output)")
        let scheduled = try world.tidemark([
            "job", "add", "offsite-copy", "--copy-of", environment.jobName, "--repository", "offsite", "--schedule", "daily at 06:00",
        ])
        #expect(scheduled.status != 0 && scheduled.output.contains("--mode periodic"), "\(scheduled.output)")
        #expect(try await environment.eventCount() == eventsBefore)

        let add = try world.tidemark([
            "job", "add", "offsite-copy", "--copy-of", environment.jobName, "--repository", "offsite", "--gfs",
            "weekly 4, monthly 12, yearly 3", "--retry-count", "0",
        ])
        #expect(add.status == 0, "\(add.output)")
        let job = try await database.administratorQuery(
            "SELECT job_kind, copy_of_job_name, copy_mode, gfs, schedule FROM reporting.jobs WHERE job_name = 'offsite-copy'")
        #expect(try job.decode(0, 0, as: String.self) == "copy" && job.decode(0, 1, as: String.self) == environment.jobName)
        #expect(
            try job.decode(0, 2, as: String.self) == "immediate" && job.decode(0, 3, as: String.self) == "weekly 4, monthly 12, yearly 3")
        #expect(try job.decode(0, 4, as: String.self) == "after \(environment.jobName)")

        // A WAN rule for the link to the offsite repository applies to the copy's transfers.
        try await environment.addThrottlingRule("wan", to: "offsite", bytesPerSecond: 50_000_000)

        let backup = try world.tidemark(["job", "start", environment.jobName])
        #expect(backup.status == 0, "\(backup.output)")
        let uncopied = try await database.administratorQuery(try BackupCopyJobTests.staleCopies())
        #expect(uncopied.rowCount == 2, "both VMs have a backup and no copy yet")
        let copy = try world.tidemark(["job", "start", "offsite-copy"])
        #expect(copy.status == 0, "\(copy.output)")
        #expect(world.servicePoints().count == 2, "\(world.servicePoints())")
        let copies = try await database.administratorQuery(
            "SELECT restore_point_id, copy_of, gfs_weekly AND gfs_monthly AND gfs_yearly, vm_name FROM reporting.restore_points WHERE copy_of IS NOT NULL ORDER BY vm_name"
        )
        #expect(copies.rowCount == 2)
        #expect(
            try copies.decode(0, 2, as: Bool.self) && copies.decode(1, 2, as: Bool.self),
            "the first copies are the week's, month's and year's")
        #expect(try await count("SELECT count(*) FROM tidemark.events WHERE event_type = 'CopyVerified' AND data->'problems' = '[]'") == 2)
        #expect(
            try await count("SELECT count(*) FROM tidemark.events WHERE event_type = 'ThrottleApplied' AND data->>'rule_name' = 'wan'") == 2
        )
        let session = try await database.administratorQuery(
            "SELECT session_kind, result, transferred_bytes > 0 FROM reporting.sessions WHERE job_name = 'offsite-copy'")
        #expect(try session.decode(0, 0, as: String.self) == "copy" && session.decode(0, 1, as: String.self) == "success")
        #expect(try session.decode(0, 2, as: Bool.self))

        // The disk restored from the copy (on the service) is the VM's disk.
        let copyID: String = try copies.decode(1, 0)
        let file = environment.folder.appendingPathComponent("from-copy.img").path
        let restored = try world.tidemark(["restore", "disk", "--vm", "lab-vm-02", "--disk", "2000", "--point", copyID, "--to", file])
        #expect(restored.status == 0, "\(restored.output)")
        let vms = try await LabAdapter(root: environment.labPath).inventory().virtualMachines
        let second = try #require(vms.first { $0.name == "lab-vm-02" })
        #expect(try JobEnvironment.sha256(file: file) == JobEnvironment.sha256(file: environment.labPath + "/disks/\(second.id)-2000.img"))

        // Nothing new to copy: nothing sent, nothing recorded, and the session says so.
        let idle = try world.tidemark(["job", "start", "offsite-copy"])
        #expect(idle.status == 0, "\(idle.output)")
        #expect(try await count("SELECT count(*) FROM reporting.restore_points WHERE copy_of IS NOT NULL") == 2)
        let idleReason = try await database.administratorQuery(
            "SELECT reason FROM reporting.sessions WHERE job_name = 'offsite-copy' ORDER BY started_at DESC LIMIT 1")
        #expect(try idleReason.decode(0, 0, as: String.self).contains("nothing to copy"))

        // A chunk the next copy relies on rots on the service's disk (its size and header
        // intact, so the service still lists it as held): the copy is sent, the service's
        // verification re-hashes it, and the point is not recorded.
        let chunkFiles = (FileManager.default.enumerator(atPath: world.servicePath + "/chunks")?.allObjects as? [String] ?? [])
            .filter { $0.count > 60 && !$0.contains(".") }.sorted()
        let victim = world.servicePath + "/chunks/" + (try #require(chunkFiles.first))
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: victim)))
        bytes[bytes.count - 1] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: victim))
        #expect(try world.tidemark(["job", "start", environment.jobName]).status == 0)
        let refused = try world.tidemark(["job", "start", "offsite-copy"])
        #expect(refused.status != 0, "\(refused.output)")
        let failed = try await database.administratorQuery(
            "SELECT result, reason FROM reporting.sessions WHERE job_name = 'offsite-copy' ORDER BY started_at DESC LIMIT 1")
        #expect(try failed.decode(0, 0, as: String.self) == "failed")
        let why: String = try failed.decode(0, 1)
        #expect(why.contains("could not be verified"), "\(why)")
        #expect(try await count("SELECT count(*) FROM tidemark.events WHERE event_type = 'CopyVerified' AND data->'problems' <> '[]'") >= 1)
        let recorded = try await count("SELECT count(*) FROM reporting.restore_points WHERE copy_of IS NOT NULL")
        #expect(recorded < 4, "a copy that failed verification was recorded")

        // The service set the chunk aside; the next copy sends it again and is verified.
        let healed = try world.tidemark(["job", "start", "offsite-copy"])
        #expect(healed.status == 0, "\(healed.output)")
        #expect(try await count("SELECT count(*) FROM reporting.restore_points WHERE copy_of IS NOT NULL") == 4)
        // The cookbook's question: no VM's newest offsite copy is older than 48 hours.
        #expect(try await database.administratorQuery(try BackupCopyJobTests.staleCopies()).rowCount == 0)
    }
}

enum BackupCopyJobTests {
    /// docs/sql-cookbook.md's "VMs whose newest offsite copy is older than 48 hours", as written there.
    static func staleCopies() throws -> String {
        let cookbook = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("docs/sql-cookbook.md"), encoding: .utf8)
        let section = try #require(cookbook.components(separatedBy: "## 26.").last)
        return try #require(section.components(separatedBy: "```sql\n").dropFirst().first?.components(separatedBy: "```").first)
    }
}
