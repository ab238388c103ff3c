import Catalog
import CatalogStore
import EventStore
import Foundation
import Infrastructure
import JobManager
import NetworkHosts
import TestSupport
import Testing

/// A job whose repository is a repository service on another host (a network namespace,
/// reached over its veth): the backup goes through the service, the VM restores
/// byte-identical from it, retention meets its immutability, and a cut link costs a pause
/// when short and fails the task with the reason when longer than the retry budget.
@Suite("Jobs to a repository service on another host", .serialized, .enabled(if: NetworkNamespaces.available, "needs root and ip(8)"))
struct ServiceRepositoryJobTests {
    /// The service in its own namespace, its token in the backup server's secrets folder, the
    /// job's repository pointed at it.
    struct World {
        let environment: JobEnvironment
        let hosts: NetworkNamespaces
        let service: RunningTidemark
        let servicePath: String

        /// `repository`: the job's repository ("repo") becomes the service, or, named otherwise,
        /// the service is added beside it under that name (a copy job's target).
        static func make(
            vms: Int = 2, retention: String = "3 restore points", repository: String = "repo", diskSize: Int64 = 4 << 20,
            guestFiles: Bool = false
        ) async throws -> World {
            let environment = try await JobEnvironment.make(
                vms: vms, diskSize: diskSize, retention: retention, guestFiles: guestFiles, twoPersonApproval: false)
            let hosts = try NetworkNamespaces(count: 1)
            let host = hosts.hosts[0]
            let servicePath = environment.folder.appendingPathComponent("offsite").path
            let issued = try await offThePool {
                try TidemarkProcess.run(
                    ["repository", "serve", "--path", servicePath, "--issue-token", "backup-1"], in: environment.folder)
            }
            let token = try #require(
                issued.output.split(separator: "\n").first { $0.hasPrefix("tmr_") }.map(String.init), "\(issued.output)")
            let service = try RunningTidemark(
                ["repository", "serve", "--path", servicePath, "--listen", "\(host.address):9420", "--immutable-days", "7"],
                in: environment.folder, wrapper: hosts.wrapper(for: host))
            #expect(try await service.waitFor("certificate SHA-256"), "\(service.output)")
            let line = try #require(service.output.split(separator: "\n").first { $0.contains("certificate SHA-256") })
            let thumbprint = String(try #require(line.split(separator: " ").last))
            let secrets = environment.folder.appendingPathComponent("data/secrets")
            try FileManager.default.createDirectory(at: secrets, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let tokenFile = secrets.appendingPathComponent("offsite.token").path
            #expect(FileManager.default.createFile(atPath: tokenFile, contents: Data(token.utf8), attributes: [.posixPermissions: 0o600]))
            let register = try environment.tidemark([
                "repository", repository == "repo" ? "update" : "add", repository, "--url", "https://\(host.address):9420", "--thumbprint",
                thumbprint, "--token-file",
                tokenFile,
                "--data-dir", environment.folder.appendingPathComponent("data").path,
            ])
            #expect(register.status == 0, "\(register.output)")
            return World(environment: environment, hosts: hosts, service: service, servicePath: servicePath)
        }

        var host: NetworkNamespaces.Host { hosts.hosts[0] }
        var dataDirectory: String { environment.folder.appendingPathComponent("data").path }

        /// `tidemark` on the backup server, with its data folder (secrets, staging) in the world.
        func tidemark(
            _ arguments: [String], environment extra: [String: String] = [:]
        ) throws -> (status: Int32, killed: Bool, output: String) {
            try environment.tidemark(arguments + ["--data-dir", dataDirectory], environment: extra)
        }

        /// The restore points the service holds (read on its host's disk, as its administrator would).
        func servicePoints() -> [String] {
            let folder = servicePath + "/restore-points"
            return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        }

        /// Stops the service (its host goes with the last reference) and removes the world's files.
        func stop() {
            service.signal(SIGTERM)
            _ = try? Program.run("/bin/sh", ["-c", "sleep 1"])
            environment.remove()
        }
    }

    @Test(
        "a job backs up to the service; the VM and a disk restore byte-identical from it; retention keeps immutable points with their date")
    func backupRestoreRetention() async throws {
        let world = try await World.make()
        let environment = world.environment
        defer { world.stop() }
        let first = try world.tidemark(["job", "start", environment.jobName])
        #expect(first.status == 0, "\(first.output)")
        #expect(world.servicePoints().count == 2, "\(world.servicePoints())")
        #expect(!FileManager.default.fileExists(atPath: environment.repositoryPath), "nothing written to a local folder")
        let checked = try await environment.database.administratorQuery(
            "SELECT data->>'path', (data->>'online')::boolean FROM tidemark.events WHERE event_type = 'RepositoryChecked'")
        #expect(try checked.decode(0, 0, as: String.self) == "https://\(world.host.address):9420" && checked.decode(0, 1, as: Bool.self))

        // A whole VM into the lab under a new name, and one disk to a file: equal to the originals.
        let restore = try world.tidemark(["restore", "vm", "lab-vm-01", "--to-server", "lab", "--name", "copy-01"])
        #expect(restore.status == 0, "\(restore.output)")
        let lab = try LabAdapter(root: environment.labPath)
        let machines = try await lab.inventory().virtualMachines
        let original = try #require(machines.first { $0.name == "lab-vm-01" })
        let copy = try #require(machines.first { $0.name == "copy-01" })
        for disk in original.disks {
            #expect(
                try JobEnvironment.sha256(file: environment.labPath + "/disks/\(copy.id)-\(disk.key).img")
                    == JobEnvironment.sha256(file: environment.labPath + "/disks/\(original.id)-\(disk.key).img"))
        }
        let file = environment.folder.appendingPathComponent("disk.img").path
        let disk = try world.tidemark(["restore", "disk", "--vm", "lab-vm-02", "--disk", "2000", "--to", file])
        #expect(disk.status == 0, "\(disk.output)")
        let second = try #require(machines.first { $0.name == "lab-vm-02" })
        #expect(try JobEnvironment.sha256(file: file) == JobEnvironment.sha256(file: environment.labPath + "/disks/\(second.id)-2000.img"))

        // "Keep 3 restore points": at the fourth run the first run's points are immutable for 7
        // days on the service, so retention records them kept with that date; nothing is lost.
        for _ in 0..<3 {
            let again = try world.tidemark(["job", "start", environment.jobName])
            #expect(again.status == 0, "\(again.output)")
        }
        #expect(world.servicePoints().count == 8, "\(world.servicePoints())")
        let deferred = try await environment.database.administratorQuery(
            "SELECT data->>'reason', data->>'removable_at' FROM tidemark.events WHERE event_type = 'RetentionDeferred'")
        #expect(deferred.rowCount == 2)
        let reason: String = try deferred.decode(0, 0)
        let removable: String = try deferred.decode(0, 1)
        #expect(reason.contains("immutable on the repository service until"), "\(reason)")
        let until = try #require(ISO8601DateFormatter().date(from: removable))
        #expect(abs(until.timeIntervalSinceNow - 7 * 86_400) < 600)
        let removed = try await environment.database.administratorQuery(
            "SELECT count(*) FROM tidemark.events WHERE event_type = 'RestorePointRemoved'")
        #expect(try removed.decode(0, 0, as: Int64.self) == 0)
        // The service journaled each refusal on its own host.
        let journal = try String(contentsOfFile: world.servicePath + "/service/journal.jsonl", encoding: .utf8)
        #expect(journal.split(separator: "\n").filter { $0.contains("point.delete") && $0.contains("refused") }.count == 2)

        // A chunk rots on the service's disk: the health check through the service finds it,
        // with the disk and offset; the service sets it aside, the next backup sends it again,
        // and the next check is clean.
        let chunkFiles = (FileManager.default.enumerator(atPath: world.servicePath + "/chunks")?.allObjects as? [String] ?? [])
            .filter { $0.count > 60 && !$0.contains(".") }.sorted()
        let victim = try #require(chunkFiles.first)
        let path = world.servicePath + "/chunks/" + victim
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count - 1] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let name = String(try #require(victim.split(separator: "/").last))
        let check = try world.tidemark(["repository", "check", "repo", "--all"])
        #expect(
            check.status == 1 && check.output.contains("damaged: restore point") && check.output.contains("chunk \(name)"),
            "\(check.output)")
        #expect(
            !FileManager.default.fileExists(atPath: path)
                && FileManager.default.fileExists(atPath: world.servicePath + "/quarantine/\(name)"))
        let healing = try world.tidemark(["job", "start", environment.jobName])
        #expect(healing.status == 0, "\(healing.output)")
        let clean = try world.tidemark(["repository", "check", "repo", "--all"])
        #expect(clean.status == 0 && clean.output.contains(": clean"), "\(clean.output)")
    }

    @Test("a link cut for a few seconds mid-transfer costs a pause; one cut longer than the retry budget fails the task with the reason")
    func linkOutages() async throws {
        let world = try await World.make(vms: 1, retention: "7 restore points")
        let environment = world.environment
        defer { world.stop() }
        // Slow enough (300 kB/s for about 1 MB of compressed chunks) for the cut to land mid-transfer.
        try await environment.addThrottlingRule("wan", to: "repo", bytesPerSecond: 300_000)
        let job = try RunningTidemark(
            ["job", "start", environment.jobName, "--database-url", environment.databaseURL, "--data-dir", world.dataDirectory],
            in: environment.folder,
            environment: ["TIDEMARK_CHECKPOINT_BYTES": "262144", "TIDEMARK_RETRY_WAIT_SECONDS": "0"])
        var checkpoints: Int64 = 0
        for _ in 0..<200 where checkpoints == 0 {
            try await Task.sleep(for: .milliseconds(50))
            checkpoints = try await environment.database.administratorQuery(
                "SELECT count(*) FROM tidemark.events WHERE event_type = 'TransferCheckpointed'"
            ).decode(0, 0, as: Int64.self)
        }
        #expect(checkpoints > 0)
        try world.hosts.setLink(of: world.host, up: false)
        try await Task.sleep(for: .seconds(3))
        try world.hosts.setLink(of: world.host, up: true)
        let linkUp: Double = try await environment.database.administratorQuery("SELECT extract(epoch FROM clock_timestamp())::float8")
            .decode(0, 0)
        #expect(try await job.waitForExit(seconds: 120) == 0, "\(job.output)")
        // The transfer began before the cut and ended after it: the same transfer, paused.
        let spans = try await environment.database.administratorQuery(
            "SELECT extract(epoch FROM min(recorded_at) FILTER (WHERE event_type = 'TransferStarted'))::float8, extract(epoch FROM max(recorded_at) FILTER (WHERE event_type = 'TransferFinished'))::float8, count(*) FILTER (WHERE event_type = 'TransferStarted') FROM tidemark.events WHERE category = 'session'"
        )
        #expect(try spans.decode(0, 0, as: Double.self) < linkUp - 3 && spans.decode(0, 1, as: Double.self) > linkUp, "\(linkUp)")
        #expect(try spans.decode(0, 2, as: Int64.self) == 1, "one transfer, not started again")
        let finished = try await environment.database.administratorQuery(
            "SELECT data->>'result' FROM tidemark.events WHERE event_type = 'SessionFinished'")
        #expect(try finished.decode(0, 0, as: String.self) == "success")
        #expect(world.servicePoints().count == 1)

        // Down for longer than a 2-second budget: the task fails, saying why.
        try world.hosts.setLink(of: world.host, up: false)
        defer { try? world.hosts.setLink(of: world.host, up: true) }
        let cut = try world.tidemark(["job", "start", environment.jobName], environment: ["TIDEMARK_REPOSITORY_RETRY_SECONDS": "2"])
        #expect(cut.status != 0, "\(cut.output)")
        let failed = try await environment.database.administratorQuery(
            "SELECT data->>'result', data->>'reason' FROM tidemark.events WHERE event_type = 'SessionFinished' ORDER BY position DESC LIMIT 1"
        )
        #expect(try failed.decode(0, 0, as: String.self) == "failed")
        let why: String = try failed.decode(0, 1)
        #expect(why.contains("https://\(world.host.address):9420"), "\(why)")
    }
}
