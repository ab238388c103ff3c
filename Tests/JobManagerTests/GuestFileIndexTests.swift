import Foundation
import Infrastructure
import TestSupport
import Testing

@testable import JobManager

/// The guest file index: a session step of jobs with `index_guest_files`, incremental
/// against the previous point, searchable by name and in `reporting.guest_files`, resumed
/// without storing a point twice.
@Suite("Guest file index", .serialized, .timeLimit(.minutes(15)))
struct GuestFileIndexTests {
    static func scalar(_ environment: JobEnvironment, _ sql: String) async throws -> Int64 {
        try await environment.database.administratorQuery(sql).decode(0, 0, as: Int64.self)
    }

    @Test("two indexed backups: counts equal the changes made, only changes are stored, find and the cookbook's deleted-files query answer")
    func incrementalIndex() async throws {
        let environment = try await JobEnvironment.make(vms: 1, diskSize: 16 << 20, disksPerVM: 2, guestFiles: true)
        defer { environment.remove() }
        try await environment.updateJob { $0.indexGuestFiles = true }
        try await environment.runJob()
        let changes = try #require(try LabAdapter(root: environment.labPath).mutateFiles()["lab-vm-01"])
        try await environment.runJob()

        let indexes = try await environment.database.administratorQuery(
            "SELECT files, added, changed, removed FROM reporting.guest_file_indexes ORDER BY point_created_at")
        #expect(indexes.rowCount == 2)
        let first: Int64 = try indexes.decode(0, 0)
        #expect(try indexes.decode(0, 1) as Int64 == first)
        #expect(try indexes.decode(1, 1) as Int64 == Int64(changes.added.count))
        #expect(try indexes.decode(1, 2) as Int64 == Int64(changes.changed.count))
        #expect(try indexes.decode(1, 3) as Int64 == Int64(changes.removed.count))
        #expect(try indexes.decode(1, 0) as Int64 == first + Int64(changes.added.count - changes.removed.count))
        // Unchanged files are stored once for both points.
        let rows = try await Self.scalar(environment, "SELECT count(*) FROM guest_index.files")
        let visible = try await Self.scalar(environment, "SELECT count(*) FROM reporting.guest_files")
        #expect(rows == first + Int64(changes.added.count + changes.changed.count))
        #expect(visible == 2 * first + Int64(changes.added.count - changes.removed.count))

        // Session events: started and finished once per point, with the counts.
        let finished = try await Self.scalar(environment, "SELECT count(*) FROM tidemark.events WHERE event_type = 'GuestIndexFinished'")
        #expect(finished == 2)

        let added = try #require(changes.added.last)
        let name = String(added.split(separator: "/").last!)
        let found = try environment.tidemark(["files", "find", "--name", String(name.prefix(3)) + "*", "--vm", "lab-vm-01"])
        #expect(found.status == 0 && found.output.contains(added), "\(found.output)")
        let none = try environment.tidemark(["files", "find", "--name", "no-such-file-*"])
        #expect(none.status == 0 && none.output.contains("no indexed file is named"), "\(none.output)")
        let bad = try environment.tidemark(["files", "find", "--name", "etc/hosts"])
        #expect(bad.status == 64 && bad.output.contains("is a file's name (no '/')"), "\(bad.output)")

        let cookbook = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("docs/sql-cookbook.md"), encoding: .utf8)
        let section = try #require(cookbook.components(separatedBy: "## 23.").last)
        let sql = try #require(section.components(separatedBy: "```sql\n").dropFirst().first?.components(separatedBy: "```").first)
        let deleted = try await environment.database.administratorQuery(sql)
        #expect(try (0..<deleted.rowCount).map { try deleted.decode($0, 2) as String } == changes.removed)
    }

    /// A one-VM lab with indexing on, backed up, its files changed; the same each time (the
    /// lab and the changes are seeded), so a second world's session has the same events.
    static func changedWorld() async throws -> JobEnvironment {
        let environment = try await JobEnvironment.make(vms: 1, diskSize: 16 << 20, disksPerVM: 1, guestFiles: true)
        try await environment.updateJob { $0.indexGuestFiles = true }
        try await environment.runJob()
        try LabAdapter(root: environment.labPath).mutateFiles()
        return environment
    }

    @Test("a session killed after it began indexing is resumed: the point is indexed once")
    func resumedIndex() async throws {
        // Where the second session records GuestIndexStarted, from a world like the one killed.
        let baseline = try await Self.changedWorld()
        try await baseline.runJob()
        let boundary = try await Self.scalar(
            baseline, "SELECT stream_version FROM tidemark.events WHERE event_type = 'GuestIndexStarted' ORDER BY position DESC LIMIT 1")
        baseline.remove()

        let environment = try await Self.changedWorld()
        defer { environment.remove() }
        let killed = try await environment.runJob(crashAfter: Int(boundary))
        #expect(killed, "the second session was expected to die after GuestIndexStarted (event \(boundary))")
        #expect(try await Self.scalar(environment, "SELECT count(*) FROM tidemark.events WHERE event_type = 'GuestIndexFinished'") == 1)
        #expect(try await environment.runJob() == false)
        #expect(try await Self.scalar(environment, "SELECT count(*) FROM tidemark.events WHERE event_type = 'GuestIndexStarted'") == 2)
        #expect(try await Self.scalar(environment, "SELECT count(*) FROM tidemark.events WHERE event_type = 'GuestIndexFinished'") == 2)
        #expect(try await Self.scalar(environment, "SELECT count(*) FROM guest_index.volumes") == 2)

        // Storing a point's file system again (a crash between the index's commit and its
        // event) leaves it as it was.
        let volume = try await environment.database.administratorQuery(
            "SELECT restore_point_id, vm_id, disk, partition, session_id FROM guest_index.volumes ORDER BY seq DESC LIMIT 1")
        let rowsBefore = try await Self.scalar(environment, "SELECT count(*) FROM guest_index.files")
        let counts = try await GuestFileIndex(pool: environment.database.eventStore().pool).store(
            [],
            for: GuestFileIndex.Volume(
                restorePoint: try volume.decode(0, 0), vm: try volume.decode(0, 1), disk: try volume.decode(0, 2),
                partition: Int(try volume.decode(0, 3) as Int64), session: try volume.decode(0, 4), fileSystem: "ext4"), seconds: 0)
        #expect(counts.files > 0)
        #expect(try await Self.scalar(environment, "SELECT count(*) FROM guest_index.files") == rowsBefore)
    }

    @Test("shell patterns become LIKE patterns with the rest literal")
    func patterns() {
        #expect(GuestFileIndex.like("nginx*.conf") == "nginx%.conf")
        #expect(GuestFileIndex.like("a?b_c%d\\") == "a_b\\_c\\%d\\\\")
        #expect(GuestFileIndex.timestamp(0) == "1970-01-01 00:00:00.000000+00")
        #expect(GuestFileIndex.timestamp(-1) == "1969-12-31 23:59:59.999999+00")
        #expect(GuestFileIndex.timestamp(Int64.max) == "9999-12-31 23:59:59.000000+00")
    }
}
