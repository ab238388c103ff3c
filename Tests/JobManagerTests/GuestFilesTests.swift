import Foundation
import Infrastructure
import TestSupport
import Testing

/// Guest files straight from the chunks: list, diff between two points after the guest's
/// files changed, restore as a session (byte-identical to what debugfs reads from the restored
/// disk), the refusals, and a file restore killed at each boundary.
@Suite("Guest files: list, diff, restore", .serialized, .timeLimit(.minutes(15)))
struct GuestFilesTests {
    /// A one-VM lab with a guest file system, backed up once, then its files changed by
    /// `lab mutate --files` and backed up again: the two points' ids and the changes made.
    static func twoPoints(_ environment: JobEnvironment) async throws -> (first: String, second: String, changes: LabFileChanges) {
        try await environment.runJob()
        let first = try await points(environment)[0]
        let changes = try #require(try LabAdapter(root: environment.labPath).mutateFiles()["lab-vm-01"])
        try await environment.runJob()
        let all = try await points(environment)
        #expect(all.count == 2)
        return (first, all[1], changes)
    }

    static func points(_ environment: JobEnvironment) async throws -> [String] {
        let rows = try await environment.database.administratorQuery(
            "SELECT data->>'restore_point_id' FROM tidemark.events WHERE event_type = 'RestorePointCreated' ORDER BY position")
        return try (0..<rows.rowCount).map { try rows.decode($0, 0) }
    }

    /// The file as debugfs (e2fsprogs, not Tidemark) reads it from the point's disk restored
    /// whole.
    static func reference(_ path: String, point: String, _ environment: JobEnvironment) throws -> Data {
        let image = environment.folder.appendingPathComponent("reference-\(point).img").path
        if !FileManager.default.fileExists(atPath: image) {
            let restored = try environment.tidemark([
                "restore", "disk", "--vm", "lab-vm-01", "--point", point, "--disk", "2000", "--to", image,
            ])
            #expect(restored.status == 0, "\(restored.output)")
        }
        return try dump(path, from: image, in: environment.folder)
    }

    /// `path` as debugfs reads it from the ext4 file system at 1 MiB into `image`.
    static func dump(_ path: String, from image: String, in folder: URL) throws -> Data {
        let dumped = folder.appendingPathComponent("dumped-\(UUID().uuidString)").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/debugfs")
        process.arguments = ["-R", "dump -p \(path) \(dumped)", "\(image)?offset=\(1 << 20)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        defer { try? FileManager.default.removeItem(atPath: dumped) }
        return try Data(contentsOf: URL(fileURLWithPath: dumped))
    }

    @Test("after the guest's files changed, diff shows exactly the changes; a deleted file is restored as it was, as a session")
    func diffAndRestore() async throws {
        let environment = try await JobEnvironment.make(vms: 1, diskSize: 16 << 20, disksPerVM: 2, guestFiles: true)
        defer { environment.remove() }
        let (first, second, changes) = try await Self.twoPoints(environment)

        let diff = try environment.tidemark(["files", "diff", "--vm", "lab-vm-01", "--from", first, "--to", second])
        #expect(diff.status == 0, "\(diff.output)")
        let lines = Set(diff.output.split(separator: "\n").map(String.init).filter { "+-~".contains($0.prefix(1)) })
        var expected = Set(changes.added.map { "+ \($0)" } + changes.removed.map { "- \($0)" })
        for path in changes.changed { #expect(lines.contains { $0.hasPrefix("~ \(path) (") }, "\(path) not shown changed: \(diff.output)") }
        expected.formUnion(lines.filter { $0.hasPrefix("~ ") })
        #expect(lines == expected, "\(diff.output)")
        #expect(lines.filter { $0.hasPrefix("~ ") }.count == changes.changed.count, "\(diff.output)")

        // The deleted file, from the first point: its bytes, mode and time as they were.
        let deleted = try #require(changes.removed.first)
        let target = environment.folder.appendingPathComponent("restored")
        let restore = try environment.tidemark([
            "files", "restore", "--vm", "lab-vm-01", "--point", first, "--path", deleted, "--path", "/etc", "--to", target.path,
            "--reason", "deleted by mistake", "--actor", "alice",
        ])
        #expect(restore.status == 0, "\(restore.output)")
        let name = String(deleted.split(separator: "/").last!)
        let restored = try Data(contentsOf: target.appendingPathComponent(name))
        #expect(restored == (try Self.reference(deleted, point: first, environment)))
        #expect(
            try Data(contentsOf: target.appendingPathComponent("etc/nginx/nginx.conf"))
                == (try Self.reference("/etc/nginx/nginx.conf", point: first, environment)))
        let listed = try environment.tidemark(["files", "list", "--vm", "lab-vm-01", "--point", first, "--path", deleted, "--json"])
        let entry = try #require(try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [String: Any], "\(listed.output)")
        let attributes = try FileManager.default.attributesOfItem(atPath: target.appendingPathComponent(name).path)
        #expect(Int((attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0) == entry["modified"] as? Int)
        #expect(String((attributes[.posixPermissions] as? Int) ?? 0, radix: 8) == entry["mode"] as? String)

        let rows = try await environment.database.administratorQuery(
            """
            SELECT what, requested_by, reason_given, target_folder, files, files_restored, result, written_bytes
              FROM reporting.restores WHERE what = 'files'
            """)
        #expect(rows.rowCount == 1)
        #expect(try rows.decode(0, 0) as String == "files")
        #expect((try rows.decode(0, 1) as String).hasPrefix("alice"))
        #expect(try rows.decode(0, 2) as String == "deleted by mistake")
        #expect(try rows.decode(0, 3) as String == target.path)
        #expect(try rows.decode(0, 4) as String == "{/etc,\(deleted)}")
        #expect(try rows.decode(0, 6) as String == "success")
        #expect(try rows.decode(0, 5, as: Int64.self) == 5)
        #expect(try rows.decode(0, 7, as: Int64.self) >= Int64(restored.count))

        // The second point has the new file and not the deleted one.
        let newer = try environment.tidemark(["files", "list", "--vm", "lab-vm-01", "-R", "--path", "/home/admin"])
        #expect(newer.output.contains(changes.added.last!) && !newer.output.contains(deleted), "\(newer.output)")
    }

    @Test(
        "refusals change nothing: a folder not empty, a missing path named, '..', a repository folder, a disk without a file system; links in the folder are never written through"
    )
    func refusals() async throws {
        let environment = try await JobEnvironment.make(vms: 1, diskSize: 16 << 20, disksPerVM: 2, guestFiles: true)
        defer { environment.remove() }
        try await environment.runJob()
        let target = environment.folder.appendingPathComponent("busy")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        try Data("mine".utf8).write(to: target.appendingPathComponent("hosts"))
        let before = try await RestoreTests.restoreEvents(environment)
        let cases: [([String], String)] = [
            (["--path", "/etc/hosts", "--to", target.path], "is not empty (1 entries)"),
            (["--path", "/etc/nginx/missing.conf", "--to", target.path + "-new"], "/etc/nginx has no entry 'missing.conf'"),
            (["--path", "/etc/../../root", "--to", target.path + "-new"], "climbs with '..'"),
            (["--path", "etc/hosts", "--to", target.path + "-new"], "give it from the guest's root, as /etc/hosts"),
            (["--path", "/etc/hosts", "--to", environment.repositoryPath + "/x"], "inside the Tidemark repository"),
            (["--path", "/etc/hosts", "--disk", "2001", "--to", target.path + "-new"], "no ext2/3/4 file system Tidemark can read"),
            (["--path", "/etc/hosts", "--partition", "3", "--to", target.path + "-new"], "has no partition 3"),
            (["--path", "/etc/hosts/x", "--to", target.path + "-new"], "is a file, not a directory"),
            (["--path", "/etc", "--path", "/etc/nginx/nginx.conf", "--to", target.path + "-new"], "overlap"),
            (["--path", "/etc/hosts", "--path", "/var/hosts", "--to", target.path + "-new"], "have the same name"),
        ]
        for (arguments, message) in cases {
            let run = try environment.tidemark(["files", "restore", "--vm", "lab-vm-01"] + arguments)
            #expect(run.status != 0 && run.output.contains(message), "\(arguments): \(run.output)")
        }
        #expect(try await RestoreTests.restoreEvents(environment) == before)
        #expect(try String(contentsOf: target.appendingPathComponent("hosts"), encoding: .utf8) == "mine")
        #expect(!FileManager.default.fileExists(atPath: target.path + "-new"))

        // A link already in the folder, pointing outside it: replaced, never written through.
        let outside = environment.folder.appendingPathComponent("outside.txt")
        try Data("untouched".utf8).write(to: outside)
        try FileManager.default.removeItem(at: target.appendingPathComponent("hosts"))
        try FileManager.default.createSymbolicLink(at: target.appendingPathComponent("hosts"), withDestinationURL: outside)
        let over = try environment.tidemark([
            "files", "restore", "--vm", "lab-vm-01", "--path", "/etc/hosts", "--to", target.path, "--overwrite",
        ])
        #expect(over.status == 0, "\(over.output)")
        #expect(try String(contentsOf: outside, encoding: .utf8) == "untouched")
        let kind =
            try FileManager.default.attributesOfItem(atPath: target.appendingPathComponent("hosts").path)[.type] as? FileAttributeType
        #expect(kind == .typeRegular)
        #expect(try String(contentsOf: target.appendingPathComponent("hosts"), encoding: .utf8).contains("localhost"))

        let list = try environment.tidemark(["files", "list", "--vm", "lab-vm-01", "--path", "/nowhere"])
        #expect(list.status != 0 && list.output.contains("/ has no entry 'nowhere'"), "\(list.output)")
        let same = try environment.tidemark(["files", "diff", "--vm", "lab-vm-01", "--from", "latest"])
        #expect(same.status != 0 && same.output.contains("the same restore point"), "\(same.output)")
    }

    @Test("a file restore killed after each of its events is resumed to the same files")
    func killedAndResumed() async throws {
        let environment = try await JobEnvironment.make(vms: 1, diskSize: 16 << 20, disksPerVM: 1, guestFiles: true)
        defer { environment.remove() }
        try await environment.runJob()
        func tree(_ folder: URL) throws -> [String: Data] {
            var files: [String: Data] = [:]
            let enumerator = FileManager.default.enumerator(atPath: folder.path)
            while let relative = enumerator?.nextObject() as? String {
                let url = folder.appendingPathComponent(relative)
                if (try url.resourceValues(forKeys: [.isRegularFileKey])).isRegularFile == true {
                    files[relative] = try Data(contentsOf: url)
                }
            }
            return files
        }
        let baselineFolder = environment.folder.appendingPathComponent("baseline")
        let baseline = try environment.tidemark(["files", "restore", "--vm", "lab-vm-01", "--path", "/etc", "--to", baselineFolder.path])
        #expect(baseline.status == 0, "\(baseline.output)")
        let expected = try tree(baselineFolder)
        #expect(expected.count == 4)
        for boundary in [1, 2] {
            let folder = environment.folder.appendingPathComponent("killed-\(boundary)")
            let killed = try environment.tidemark(
                ["files", "restore", "--vm", "lab-vm-01", "--path", "/etc", "--to", folder.path], crashAfter: boundary)
            #expect(killed.killed, "boundary \(boundary): \(killed.output)")
            let id = try #require(try await RestoreCrashTests.unfinished(environment))
            let resumed = try environment.tidemark(["restore", "resume", id])
            #expect(resumed.status == 0, "boundary \(boundary): \(resumed.output)")
            #expect(try tree(folder) == expected, "boundary \(boundary)")
        }
    }
}
