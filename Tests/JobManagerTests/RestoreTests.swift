import Foundation
import Infrastructure
import JobManager
import Repository
import TestSupport
import Testing

/// Restores as sessions: a VM created in the lab from its restore point, a disk to a file,
/// exports, every refusal with nothing created, a damaged chunk failing the restore, and the
/// reporting row that says who restored what to where.
@Suite("Restore sessions", .timeLimit(.minutes(10)))
struct RestoreTests {
    /// A world with one backup session of `vms` VMs with two 4 MiB disks each.
    static func backedUp(vms: Int = 2) async throws -> JobEnvironment {
        let environment = try await JobEnvironment.make(vms: vms, diskSize: 4 << 20, disksPerVM: 2)
        try await environment.runJob()
        return environment
    }

    static func restoreEvents(_ environment: JobEnvironment) async throws -> Int64 {
        try await environment.database.administratorQuery("SELECT count(*) FROM tidemark.events WHERE category = 'restore'").decode(
            0, 0, as: Int64.self)
    }

    static func machine(named name: String, in environment: JobEnvironment) async throws -> VirtualMachine? {
        try await LabAdapter(root: environment.labPath).inventory().virtualMachines.first { $0.name == name }
    }

    static func diskFile(_ vm: VirtualMachine, _ key: Int, in environment: JobEnvironment) -> String {
        environment.labPath + "/disks/\(vm.id)-\(key).img"
    }

    @Test("a VM restored into the lab under a new name: its configuration, new identity, mapped network, equal disks, powered on, audited")
    func vmIntoTheLab() async throws {
        let environment = try await Self.backedUp()
        defer { environment.remove() }
        let run = try environment.tidemark([
            "restore", "vm", "lab-vm-01", "--to-server", "lab", "--name", "copy-01", "--folder", "/Lab/vm/Test",
            "--network-map", "VM Network=Isolated", "--power-on", "--reason", "restore drill", "--actor", "alice",
        ])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("→ VM copy-01"), "\(run.output)")
        let original = try #require(try await Self.machine(named: "lab-vm-01", in: environment))
        let copy = try #require(try await Self.machine(named: "copy-01", in: environment))
        #expect(copy.folder == "group-v3" && copy.poweredOn && copy.id != original.id)
        #expect(copy.instanceUUID != original.instanceUUID)
        #expect(copy.hardware?.cpus == original.hardware?.cpus && copy.hardware?.memoryMiB == original.hardware?.memoryMiB)
        #expect(copy.hardware?.firmware == original.hardware?.firmware)
        #expect(copy.hardware?.controllers == original.hardware?.controllers && original.hardware?.controllers?.isEmpty == false)
        #expect(copy.hardware?.nics.map(\.network) == ["network-2"])
        #expect(copy.hardware?.nics.first?.macAddress != original.hardware?.nics.first?.macAddress)
        #expect(copy.disks.map(\.key) == original.disks.map(\.key) && copy.disks.map(\.capacity) == original.disks.map(\.capacity))
        for disk in original.disks {
            #expect(
                try JobEnvironment.sha256(file: Self.diskFile(copy, disk.key, in: environment))
                    == JobEnvironment.sha256(file: Self.diskFile(original, disk.key, in: environment)), "disk \(disk.key)")
        }
        let types = try await environment.database.administratorQuery(
            "SELECT string_agg(event_type, ',' ORDER BY stream_version) FROM tidemark.events WHERE category = 'restore'")
        let sequence: String = try types.decode(0, 0)
        #expect(sequence.hasPrefix("RestoreRequested,RestoreTargetRequested,RestoreTargetPrepared,RestoreDiskStarted"))
        #expect(sequence.hasSuffix("RestorePowerOnRequested,RestorePoweredOn,RestoreFinished"))
        let row = try await environment.database.administratorQuery(
            """
            SELECT requested_by, reason_given, result, array_to_string(vm_names, ','), array_to_string(target_vms, ','),
                   target_server, target_folder, vms_powered_on, written_bytes + skipped_bytes
              FROM reporting.restores
            """)
        #expect(row.rowCount == 1)
        #expect((try row.decode(0, 0, as: String.self)).hasPrefix("alice (cli:"))
        #expect(try row.decode(0, 1, as: String.self) == "restore drill")
        #expect(try row.decode(0, 2, as: String.self) == "success")
        #expect(try row.decode(0, 3, as: String.self) == "lab-vm-01" && row.decode(0, 4, as: String.self) == "copy-01")
        #expect(try row.decode(0, 5, as: String.self) == "lab" && row.decode(0, 6, as: String.self) == "/Lab/vm/Test")
        #expect(try row.decode(0, 7, as: Int64.self) == 1 && row.decode(0, 8, as: Int64.self) == 8 << 20)
        // The restores projection rebuilt from the log equals the live one.
        let verify = try environment.tidemark(["projections", "verify"])
        #expect(verify.status == 0, "\(verify.output)")
        #expect(try environment.tidemark(["restore-point", "list", "--vm", "lab-vm-01"]).output.contains("2000 (4.2 MB), 2001 (4.2 MB)"))
    }

    @Test("a disk to a file and an export equal the backed-up disks; an existing file is kept without --force")
    func diskAndExport() async throws {
        let environment = try await Self.backedUp()
        defer { environment.remove() }
        let original = try #require(try await Self.machine(named: "lab-vm-02", in: environment))
        let file = environment.folder.appendingPathComponent("restored.img").path
        let run = try environment.tidemark(["restore", "disk", "--vm", "lab-vm-02", "--disk", "disk-2001", "--to", file])
        #expect(run.status == 0, "\(run.output)")
        #expect(try JobEnvironment.sha256(file: file) == JobEnvironment.sha256(file: Self.diskFile(original, 2001, in: environment)))
        let again = try environment.tidemark(["restore", "disk", "--vm", "lab-vm-02", "--disk", "2001", "--to", file])
        #expect(again.status != 0 && again.output.contains("exists: choose another file, or pass --force"), "\(again.output)")
        #expect(try environment.tidemark(["restore", "disk", "--vm", "vm-2", "--disk", "2001", "--to", file, "--force"]).status == 0)

        let exports = environment.folder.appendingPathComponent("exports")
        try FileManager.default.createDirectory(at: exports, withIntermediateDirectories: true)
        let export = try environment.tidemark(["restore", "export", "lab-vm-01", "lab-vm-02", "--to-folder", exports.path])
        #expect(export.status == 0, "\(export.output)")
        for name in ["lab-vm-01", "lab-vm-02"] {
            let machine = try #require(try await Self.machine(named: name, in: environment))
            for disk in machine.disks {
                #expect(
                    try JobEnvironment.sha256(file: exports.appendingPathComponent("\(name)-disk-\(disk.key).img").path)
                        == JobEnvironment.sha256(file: Self.diskFile(machine, disk.key, in: environment)))
            }
        }
        let hidden = try FileManager.default.contentsOfDirectory(atPath: exports.path).filter { $0.hasPrefix(".") }
        #expect(hidden.isEmpty)
        // Raw: every byte allocated; sparse (the default): the zero blocks are holes.
        let raw = environment.folder.appendingPathComponent("raw")
        try FileManager.default.createDirectory(at: raw, withIntermediateDirectories: true)
        #expect(try environment.tidemark(["restore", "export", "lab-vm-01", "--to-folder", raw.path, "--format", "raw"]).status == 0)
        func allocated(_ path: String) -> Int64 {
            var info = stat()
            return stat(path, &info) == 0 ? Int64(info.st_blocks) * 512 : -1
        }
        let rawFile = raw.appendingPathComponent("lab-vm-01-disk-2000.img").path
        let sparseFile = exports.appendingPathComponent("lab-vm-01-disk-2000.img").path
        #expect(allocated(rawFile) >= 4 << 20 && allocated(sparseFile) < allocated(rawFile))
        #expect(try JobEnvironment.sha256(file: rawFile) == JobEnvironment.sha256(file: sparseFile))
        #expect(try await Self.restoreEvents(environment) > 0)
    }

    @Test("an export of a VM whose name has a path in it, a backslash and a line break stays in its folder under a cleaned name")
    func oddNamesInExports() async throws {
        let environment = try await JobEnvironment.make(vms: 1, diskSize: 1 << 20, disksPerVM: 2)
        defer { environment.remove() }
        let odd = "../db\\01\n(prod)"
        let inventory = environment.labPath + "/inventory.json"
        let text = try String(contentsOfFile: inventory, encoding: .utf8)
        #expect(text.contains("\"lab-vm-01\""))
        let encodedName = String(decoding: try JSONEncoder().encode(odd), as: UTF8.self)
        try text.replacingOccurrences(of: "\"lab-vm-01\"", with: encodedName).write(toFile: inventory, atomically: true, encoding: .utf8)
        let update = try environment.tidemark(["job", "update", environment.jobName, "--object", "folder:/Lab/vm/Production"])
        #expect(update.status == 0, "\(update.output)")
        try await environment.runJob()
        let exports = environment.folder.appendingPathComponent("exports/inner")
        try FileManager.default.createDirectory(at: exports, withIntermediateDirectories: true)
        let run = try environment.tidemark(["restore", "export", odd, "--to-folder", exports.path])
        #expect(run.status == 0, "\(run.output)")
        let machine = try #require(try await Self.machine(named: odd, in: environment))
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: exports.path).sorted()
                == machine.disks.map { "_._db_01_(prod)-disk-\($0.key).img" })
        #expect(try FileManager.default.contentsOfDirectory(atPath: exports.deletingLastPathComponent().path) == ["inner"])
        for disk in machine.disks {
            #expect(
                try JobEnvironment.sha256(file: exports.appendingPathComponent("_._db_01_(prod)-disk-\(disk.key).img").path)
                    == JobEnvironment.sha256(file: Self.diskFile(machine, disk.key, in: environment)))
        }
    }

    @Test("bad requests are refused with the choices, and record and create nothing")
    func badRequests() async throws {
        let environment = try await Self.backedUp()
        defer { environment.remove() }
        let vmsBefore = try await LabAdapter(root: environment.labPath).inventory().virtualMachines.count
        let file = environment.folder.appendingPathComponent("out.img").path
        let cases: [([String], String)] = [
            (
                ["restore", "vm", "web-99", "--to-server", "lab"],
                "no restore point of a VM named web-99: VMs with restore points are lab-vm-01, lab-vm-02"
            ),
            (
                ["restore", "vm", "lab-vm-01", "--to-server", "lab", "--point", "vm-1-nothere"],
                "lab-vm-01 has no restore point vm-1-nothere: lab-vm-01 has restore points at"
            ),
            (
                ["restore", "disk", "--vm", "lab-vm-01", "--disk", "2009", "--to", file],
                "has no disk 2009: its disks are disk-2000, disk-2001"
            ),
            (
                ["restore", "disk", "--vm", "lab-vm-01", "--disk", "2000", "--at", "2001-01-01", "--to", file],
                "has no restore point at or before 2001-01-01"
            ),
            (
                ["restore", "vm", "lab-vm-01", "--to-server", "lab", "--name", "lab-vm-02"],
                "lab already has a VM named lab-vm-02 (vm-2): choose another with --name"
            ),
            (
                ["restore", "vm", "lab-vm-01", "--to-server", "lab", "--network-map", "VM Network=Nowhere"],
                "lab has no network Nowhere (its networks: Isolated, VM Network)"
            ),
            (
                ["restore", "vm", "lab-vm-01", "--to-server", "lab", "--network-map", "Other=Isolated"],
                "no NIC of the VMs restored is on Other (they use VM Network)"
            ),
            (
                ["restore", "vm", "lab-vm-01", "--to-server", "lab", "--folder", "Nope"],
                "lab has no folder Nope: its folders are /Lab/vm, /Lab/vm/Production, /Lab/vm/Test"
            ),
            (
                ["restore", "vm", "lab-vm-01", "--to-server", "lab", "--datastore", "fast"],
                "lab has no datastore fast: its datastores are lab-datastore"
            ),
            (
                ["restore", "vm", "lab-vm-01", "--to-server", "lab", "--host", "esx-9"],
                "lab has no host esx-9 in that datacenter: its hosts are esx-01.lab, esx-02.lab"
            ),
            (["restore", "vm", "lab-vm-01", "--to-server", "vc9"], "there is no managed server named vc9 (known: lab)"),
            (["restore", "vm", "lab-vm-01", "lab-vm-02", "--to-server", "lab", "--name", "x"], "--name names one VM"),
            (
                ["restore", "vm", "lab-vm-01", "--to-server", "lab", "--network-map", "VM Network"],
                "--network-map 'VM Network' is not OLD=NEW"
            ),
            (
                ["restore", "disk", "--vm", "lab-vm-01", "--disk", "2000", "--to", environment.repositoryPath + "/x.img"],
                "is inside the Tidemark repository"
            ),
            (
                ["restore", "disk", "--vm", "lab-vm-01", "--disk", "2000", "--to", "/nonexistent-folder/x.img"],
                "the folder /nonexistent-folder does not exist"
            ),
            (["restore", "export", "lab-vm-01", "--to-folder", "/nonexistent-folder"], "/nonexistent-folder is not a folder"),
            (
                ["restore", "disk", "--vm", "lab-vm-01", "--disk", "2000", "--to", file, "--at", "yesterday"],
                "--at 'yesterday' is not a time"
            ),
            (["restore", "vm", "lab-vm-01", "--to-server", "lab", "--power-off"], "--power-off goes with --overwrite"),
            (["restore", "vm", "lab-vm-01", "lab-vm-01", "--to-server", "lab"], "lab-vm-01 is named twice"),
            (["restore", "vm", "lab-vm-01", "vm-1", "--to-server", "lab"], "vm-1 names a VM already in this restore"),
            (["restore", "resume", "4b3f0a6e-0000-4000-8000-000000000000"], "there is no restore 4b3f0a6e-0000-4000-8000-000000000000"),
        ]
        for (arguments, expected) in cases {
            let run = try environment.tidemark(arguments)
            #expect(run.status != 0, "\(arguments) succeeded")
            #expect(run.output.contains(expected), "\(arguments): \(run.output)")
        }
        #expect(try await Self.restoreEvents(environment) == 0)
        #expect(try await LabAdapter(root: environment.labPath).inventory().virtualMachines.count == vmsBefore)
        #expect(!FileManager.default.fileExists(atPath: file))
    }

    @Test(
        "a restore point gone from the repository is refused by name; a corrupt chunk fails the disk with point, disk and offset, and nothing is powered on"
    )
    func damage() async throws {
        let environment = try await Self.backedUp()
        defer { environment.remove() }
        let repository = try BackupRepository.open(at: URL(fileURLWithPath: environment.repositoryPath))
        let points = try repository.restorePoints().sorted()
        // vm-1's manifest of disk-2001 removed behind the catalog's back (a retention that crashed midway).
        try FileManager.default.removeItem(atPath: environment.repositoryPath + "/restore-points/\(points[0])/disk-2001.json")
        let gone = try environment.tidemark(["restore", "vm", "vm-1", "--to-server", "lab"])
        #expect(
            gone.output.contains("restore point \(points[0]) of lab-vm-01, disk disk-2001, cannot be read from repository 'repo'"),
            "\(gone.output)")
        #expect(try await Self.restoreEvents(environment) == 0)

        // Every chunk of vm-2's first disk truncated: its restore fails, the VM stays off.
        let manifest = try repository.manifest(restorePoint: points[1], disk: "disk-2000")
        let chunk = try #require(manifest.blocks.compactMap { $0 }.first)
        let path = repository.chunks.path(of: chunk)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: 30)
        try handle.close()
        let failed = try environment.tidemark(["restore", "vm", "vm-2", "--to-server", "lab", "--power-on"])
        #expect(failed.status == 2, "\(failed.output)")
        #expect(failed.output.contains("restore point \(points[1]), disk disk-2000, offset"), "\(failed.output)")
        let copy = try #require(try await Self.machine(named: "lab-vm-02-restored", in: environment))
        #expect(!copy.poweredOn)
        let result = try await environment.database.administratorQuery("SELECT result, reason FROM reporting.restores")
        #expect(try result.decode(0, 0, as: String.self) == "failed")
        #expect((try result.decode(0, 1, as: String.self)).contains("1 of 1 VM not restored"))
    }

    @Test("quick rollback over the original VM: only what changed since the point is written, a running VM needs --power-off")
    func quickRollback() async throws {
        let environment = try await Self.backedUp()
        defer { environment.remove() }
        let lab = try LabAdapter(root: environment.labPath)
        let original = try #require(try await Self.machine(named: "lab-vm-01", in: environment))
        var atBackup: [Int: String] = [:]
        for disk in original.disks {
            atBackup[disk.key] = try JobEnvironment.sha256(file: Self.diskFile(original, disk.key, in: environment))
        }
        try lab.mutate(percent: 1)  // one 64 KiB block of every disk
        let vmsBefore = try await lab.inventory().virtualMachines.count

        let running = try environment.tidemark(["restore", "vm", "lab-vm-01", "--to-server", "lab", "--overwrite"])
        #expect(
            running.status != 0 && running.output.contains("is powered on: switch it off first, or pass --power-off"), "\(running.output)")
        let plain = try environment.tidemark(["restore", "vm", "lab-vm-01", "--to-server", "lab"])
        #expect(plain.output.contains("already has a VM named lab-vm-01-restored") == false && plain.status == 0, "\(plain.output)")

        let rollback = try environment.tidemark([
            "restore", "vm", "lab-vm-01", "--to-server", "lab", "--overwrite", "--power-off", "--power-on", "--reason",
            "undo the bad patch",
        ])
        #expect(rollback.status == 0, "\(rollback.output)")
        let after = try #require(try await Self.machine(named: "lab-vm-01", in: environment))
        #expect(after.id == original.id && after.poweredOn)
        #expect(try await lab.inventory().virtualMachines.count == vmsBefore + 1)  // the plain restore's copy only
        for disk in original.disks {
            #expect(
                try JobEnvironment.sha256(file: Self.diskFile(after, disk.key, in: environment)) == atBackup[disk.key], "disk \(disk.key)")
        }
        let figures = try await environment.database.administratorQuery(
            "SELECT written_bytes, skipped_bytes FROM reporting.restores WHERE reason_given = 'undo the bad patch'")
        let written: Int64 = try figures.decode(0, 0), skipped: Int64 = try figures.decode(0, 1)
        #expect(written > 0 && written <= 2 << 20, "written \(written)")
        #expect(written + skipped == 8 << 20)
        let modes = try await environment.database.administratorQuery(
            "SELECT DISTINCT data->>'mode' FROM tidemark.events WHERE event_type = 'RestoreDiskStarted' AND data->>'mode' <> 'full'")
        #expect(try modes.rowCount == 1 && modes.decode(0, 0, as: String.self) == "changed")
        let types = try await environment.database.administratorQuery(
            "SELECT count(*) FROM tidemark.events WHERE event_type IN ('RestorePowerOffRequested', 'RestorePoweredOff')")
        #expect(try types.decode(0, 0, as: Int64.self) == 2)

        // Nothing changed since: a second rollback writes nothing.
        let again = try environment.tidemark([
            "restore", "vm", "lab-vm-01", "--to-server", "lab", "--overwrite", "--power-off", "--reason", "again",
        ])
        #expect(again.status == 0, "\(again.output)")
        let second = try await environment.database.administratorQuery(
            "SELECT written_bytes FROM reporting.restores WHERE reason_given = 'again'")
        #expect(try second.decode(0, 0, as: Int64.self) == 0)

        // Over another VM of the same shape: every block compared, the disks then equal the point.
        let other = try environment.tidemark([
            "restore", "vm", "lab-vm-01", "--to-server", "lab", "--name", "lab-vm-02", "--overwrite", "--power-off",
        ])
        #expect(other.status == 0, "\(other.output)")
        let second02 = try #require(try await Self.machine(named: "lab-vm-02", in: environment))
        for disk in original.disks {
            #expect(try JobEnvironment.sha256(file: Self.diskFile(second02, disk.key, in: environment)) == atBackup[disk.key])
        }
    }

    @Test("a disk written over a disk of another VM: equal to the point's disk, the VM switched off first, refusals named")
    func diskIntoAnotherVM() async throws {
        let environment = try await Self.backedUp()
        defer { environment.remove() }
        let source = try #require(try await Self.machine(named: "lab-vm-01", in: environment))
        let expected = try JobEnvironment.sha256(file: Self.diskFile(source, 2001, in: environment))
        for (arguments, message) in [
            (["--to-vm", "lab-vm-02"], "lab-vm-02 (vm-2) is powered on: switch it off first, or pass --power-off"),
            (["--to-vm", "nope"], "lab has no VM named nope (its VMs: lab-vm-01, lab-vm-02)"),
            (
                ["--to-vm", "lab-vm-02", "--target-disk", "2009", "--power-off"],
                "cannot take the restore point's disks (disk-2009 is not on the VM)"
            ),
            (["--to-vm", "lab-vm-02", "--to", "/tmp/x.img"], "give --to FILE or --to-vm VM (one of them)"),
            (["--to-vm", "lab-vm-02", "--to-server", "vc9", "--power-off"], "there is no managed server named vc9"),
        ] {
            let refused = try environment.tidemark(["restore", "disk", "--vm", "lab-vm-01", "--disk", "2001"] + arguments)
            #expect(refused.status != 0 && refused.output.contains(message), "\(arguments): \(refused.output)")
        }
        #expect(try await Self.restoreEvents(environment) == 0)
        let run = try environment.tidemark([
            "restore", "disk", "--vm", "lab-vm-01", "--disk", "2001", "--to-vm", "lab-vm-02", "--power-off",
        ])
        #expect(run.status == 0, "\(run.output)")
        let target = try #require(try await Self.machine(named: "lab-vm-02", in: environment))
        #expect(try JobEnvironment.sha256(file: Self.diskFile(target, 2001, in: environment)) == expected)
        #expect(!target.poweredOn)
        let mode = try await environment.database.administratorQuery(
            "SELECT data->>'mode' FROM tidemark.events WHERE event_type = 'RestoreDiskStarted'")
        #expect(try mode.decode(0, 0, as: String.self) == "compare")
    }

    @Test(
        "refused with nothing recorded: a point retention removed, an encrypted repository the catalog has no key for, a datastore without room"
    )
    func refusalsOfCircumstance() async throws {
        let environment = try await JobEnvironment.make(
            vms: 1, diskSize: 4 << 20, disksPerVM: 2, retention: "3 restore points", twoPersonApproval: false)
        defer { environment.remove() }
        for _ in 0..<4 { try await environment.runJob() }
        let first = try await environment.database.administratorQuery(
            "SELECT data->>'restore_point_id' FROM tidemark.events WHERE event_type = 'RestorePointRemoved'")
        let removed: String = try first.decode(0, 0)
        let file = environment.folder.appendingPathComponent("out.img").path
        let gone = try environment.tidemark(["restore", "disk", "--vm", "lab-vm-01", "--disk", "2000", "--to", file, "--point", removed])
        #expect(
            gone.status != 0 && gone.output.contains("lab-vm-01 has no restore point \(removed): lab-vm-01 has restore points at"),
            "\(gone.output)")

        // A lab on a 1 MiB file system: the 8 MiB of disks do not fit.
        let tiny = environment.folder.appendingPathComponent("tiny")
        try FileManager.default.createDirectory(at: tiny, withIntermediateDirectories: true)
        let mounted = try await Self.tool("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", tiny.path])
        try #require(mounted == 0, "these tests run as root: mount a tmpfs for the datastore without room")
        defer { _ = try? Self.toolNow("/bin/umount", [tiny.path]) }
        try LabAdapter.create(at: tiny.appendingPathComponent("lab").path, vms: 1, disksPerVM: 1, diskSize: 64 << 10)
        #expect(try environment.tidemark(["server", "add", "tiny", "--lab", tiny.appendingPathComponent("lab").path]).status == 0)
        let full = try environment.tidemark(["restore", "vm", "lab-vm-01", "--to-server", "tiny", "--name", "copy"])
        #expect(full.status != 0 && full.output.contains("datastore lab-datastore has"), "\(full.output)")
        #expect(full.output.contains("bytes free, the disks need 8388608: choose another with --datastore"), "\(full.output)")

        // The repository replaced by an encrypted one: the catalog holds no key for it.
        let sealed = environment.folder.appendingPathComponent("sealed")
        _ = try BackupRepository.create(
            at: sealed, key: RepositoryKey.generate(at: environment.folder.appendingPathComponent("sealed.key").path))
        #expect(try environment.tidemark(["repository", "update", "repo", "--path", sealed.path]).status == 0)
        let encrypted = try environment.tidemark(["restore", "disk", "--vm", "lab-vm-01", "--disk", "2000", "--to", file])
        #expect(
            encrypted.status != 0 && encrypted.output.contains("repository 'repo' is encrypted and the catalog holds no key for it"),
            "\(encrypted.output)")
        #expect(try await Self.restoreEvents(environment) == 0)
        #expect(!FileManager.default.fileExists(atPath: file))
    }

    /// A system tool's exit status, waited for off the cooperative pool.
    static func tool(_ path: String, _ arguments: [String]) async throws -> Int32 {
        try await offThePool { try toolNow(path, arguments) }
    }

    static func toolNow(_ path: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}
