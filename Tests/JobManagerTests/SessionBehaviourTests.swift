import Catalog
import CatalogStore
import EventStore
import Foundation
import Infrastructure
import JobManager
import Repository
import TestSupport
import Testing

@Suite("Sessions: failures, application-aware processing, retention")
struct SessionBehaviourTests {
    func run(_ environment: JobEnvironment) async throws -> SessionReport { try await environment.runInProcess() }

    func update(_ environment: JobEnvironment, _ change: @escaping @Sendable (inout JobDefinition) -> Void) async throws {
        try await environment.updateJob { (job: inout JobDefinition) throws(CatalogError) in change(&job) }
    }

    @Test("a VM whose snapshot fails fails alone, with the reason, and leaves no snapshot; the others are backed up")
    func snapshotFailure() async throws {
        let environment = try await JobEnvironment.make(vms: 3, diskSize: 1 << 20)
        defer { environment.remove() }
        let lab = try LabAdapter(root: environment.labPath)
        var faults = LabFaults()
        faults.snapshotFailure = ["vm-2"]
        try lab.setFaults(faults)
        let report = try await run(environment)
        #expect(report.finished.result == "failed")
        #expect(report.machines.filter { $0.result == "success" }.map(\.id).sorted() == ["vm-1", "vm-3"])
        let reason = try await environment.database.administratorQuery(
            "SELECT data->>'message' FROM tidemark.events WHERE event_type = 'TaskFinished' AND data->>'task_id' = 'vm-2/2000'")
        #expect(try reason.decode(0, 0, as: String.self).contains("injected snapshot failure"))
        let outcome = try await environment.outcome()
        #expect(outcome.snapshotsLeft == 0 && outcome.restorePointsCreated == 2)
    }

    @Test("application-aware processing: ignore-failures falls back with a warning, require-success fails the VM")
    func applicationAware() async throws {
        let environment = try await JobEnvironment.make(vms: 2, diskSize: 1 << 20)
        defer { environment.remove() }
        let lab = try LabAdapter(root: environment.labPath)
        var faults = LabFaults()
        faults.quiesceFailure = ["vm-1"]
        try lab.setFaults(faults)
        try await update(environment) { $0.applicationAware = .ignoreFailures }
        let lenient = try await run(environment)
        #expect(lenient.finished.result == "warning")
        #expect(lenient.machines.map(\.restorePoint).allSatisfy { $0 != nil })
        try await update(environment) { $0.applicationAware = .requireSuccess }
        let strict = try await run(environment)
        #expect(strict.finished.result == "failed")
        #expect(strict.machines.first { $0.id == "vm-1" }?.restorePoint == nil)
        #expect(strict.machines.first { $0.id == "vm-2" }?.restorePoint != nil)
    }

    @Test("retention after a successful session keeps the job's restore points per VM, each removal recorded once")
    func retention() async throws {
        let environment = try await JobEnvironment.make(vms: 2, diskSize: 1 << 20, retention: "3 restore points", twoPersonApproval: false)
        defer { environment.remove() }
        var points: [[String]] = []
        for _ in 0..<5 { points.append(try await run(environment).machines.compactMap(\.restorePoint)) }
        let repository = try BackupRepository.open(at: URL(fileURLWithPath: environment.repositoryPath))
        let kept = Set(try repository.restorePoints())
        #expect(kept == Set(points.suffix(3).flatMap { $0 }))
        let removed = try await environment.database.administratorQuery(
            "SELECT count(*), count(DISTINCT data->>'restore_point_id') FROM tidemark.events WHERE event_type = 'RestorePointRemoved'")
        #expect(try removed.decode(0, 0, as: Int64.self) == 4)
        #expect(try removed.decode(0, 1, as: Int64.self) == 4)
        #expect(try RepositoryVerifier(repository: repository).verify().problems.isEmpty)
    }

    @Test(
        "under two-person approval, sessions started by hand push out no restore point; the schedule's runs do, with the rule in the reason"
    )
    func retentionUnderApproval() async throws {
        let environment = try await JobEnvironment.make(vms: 1, diskSize: 1 << 20, retention: "3 restore points")
        defer { environment.remove() }
        for _ in 0..<5 { _ = try await environment.runInProcess(trigger: .manual) }
        func removed() async throws -> [String] {
            let rows = try await environment.database.administratorQuery(
                "SELECT data->>'reason' FROM tidemark.events WHERE event_type = 'RestorePointRemoved' ORDER BY position")
            return try (0..<rows.rowCount).map { try rows.decode($0, 0, as: String.self) }
        }
        #expect(try await removed().isEmpty, "five runs by hand within minutes remove nothing")

        let time = try TimeOfDay(hour: 23, minute: 59)
        try await environment.updateJob { job in job.schedule = .daily(times: [time], days: Set(Weekday.allCases)) }
        for _ in 0..<3 { _ = try await environment.runInProcess(trigger: .scheduled) }
        #expect(try await removed().isEmpty, "three scheduled points are within the three kept")
        let fourth = try await environment.runInProcess(trigger: .scheduled)
        // The oldest scheduled point goes, and the five hand-made extras older than it.
        let reasons = try await removed()
        #expect(reasons.count == 6 && reasons.allSatisfy { $0.contains("two-person approval") }, "\(reasons)")
        let repository = try BackupRepository.open(at: URL(fileURLWithPath: environment.repositoryPath))
        let kept = try repository.restorePoints()
        #expect(kept.count == 3 && fourth.machines.first?.restorePoint.map(kept.contains) == true, "\(kept)")
    }

    @Test("a restore not finished keeps its restore point from retention until it ends")
    func retentionSparesARestoresPoint() async throws {
        let environment = try await JobEnvironment.make(
            vms: 1, diskSize: 1 << 20, retention: "3 restore points", twoPersonApproval: false)
        defer { environment.remove() }
        for _ in 0..<3 { _ = try await environment.runInProcess() }
        let points = try await environment.database.administratorQuery(
            "SELECT data->>'restore_point_id' FROM tidemark.events WHERE event_type = 'RestorePointCreated' ORDER BY position")
        let oldest: String = try points.decode(0, 0)
        // The restore's process dies right after its request is recorded.
        let file = environment.folder.appendingPathComponent("restored.img").path
        let killed = try environment.tidemark(
            ["restore", "disk", "--vm", "lab-vm-01", "--point", oldest, "--disk", "2000", "--to", file], crashAfter: 1)
        #expect(killed.killed, "\(killed.output)")
        _ = try await environment.runInProcess()
        let deferred = try await environment.database.administratorQuery(
            "SELECT data->>'restore_point_id', data->>'reason' FROM tidemark.events WHERE event_type = 'RetentionDeferred'")
        #expect(deferred.rowCount == 1)
        #expect(try deferred.decode(0, 0, as: String.self) == oldest)
        let reason: String = try deferred.decode(0, 1)
        #expect(reason.contains("read by restore") && reason.contains("tidemark restore resume"), "\(reason)")
        // Resumed, the restore finishes from the point; the next retention removes it.
        let restore: String = try await environment.database.administratorQuery(
            "SELECT data->>'restore_id' FROM tidemark.events WHERE event_type = 'RestoreRequested'"
        ).decode(0, 0)
        let resumed = try environment.tidemark(["restore", "resume", restore])
        #expect(resumed.status == 0, "\(resumed.output)")
        _ = try await environment.runInProcess()
        let removed = try await environment.database.administratorQuery(
            "SELECT data->>'restore_point_id' FROM tidemark.events WHERE event_type = 'RestorePointRemoved'")
        #expect((0..<removed.rowCount).map { try? removed.decode($0, 0, as: String.self) }.contains(oldest))
    }

    @Test("a job whose repository service cannot be reached ends failed with the service's address, and writes nothing")
    func unreachableServiceRefused() async throws {
        let environment = try await JobEnvironment.make(vms: 1, diskSize: 1 << 20)
        defer { environment.remove() }
        let data = environment.folder.appendingPathComponent("data")
        let secrets = data.appendingPathComponent("secrets")
        try FileManager.default.createDirectory(at: secrets, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let tokenFile = secrets.appendingPathComponent("offsite.token").path
        #expect(
            FileManager.default.createFile(
                atPath: tokenFile, contents: Data(("tmr_" + String(repeating: "ab", count: 32)).utf8),
                attributes: [.posixPermissions: 0o600]))
        // A loopback port nothing listens on: the service is down.
        let url = "https://127.0.0.1:\(try LoopbackPort.free())"
        try await CatalogStore(events: environment.database.eventStore()).execute(metadata: EventMetadata(actor: "test")) {
            state throws(CatalogError) in
            try CatalogDecider.update(id: try state.require(RepositoryDefinition.self, named: "repo"), basedOn: nil, in: state) {
                (repository: inout RepositoryDefinition) throws(CatalogError) in
                var changes = RepositoryChanges()
                changes.serviceURL = url
                changes.serviceThumbprint = String(repeating: "AB", count: 32)
                changes.serviceToken = try SecretReference(source: .file, name: tokenFile)
                changes.apply(to: &repository)
            }
        }
        var settings = JobManagerSettings(checkpointBytes: 1 << 20, retryWait: .zero)
        settings.secrets = SecretsLocation(dataDirectory: data.path)
        settings.repositoryStaging = data.appendingPathComponent("repository-staging").path
        settings.repositoryRetryBudget = .seconds(1)
        let manager = JobManager(store: environment.database.eventStore(), settings: settings)
        let report = try await manager.run(session: try await manager.begin(job: environment.jobName, trigger: .manual))
        #expect(report.finished.result == .failed, "\(report.finished)")
        #expect(report.finished.reason?.contains("repository unavailable: repository 'repo' at \(url)") == true, "\(report.finished)")
        #expect(!FileManager.default.fileExists(atPath: environment.repositoryPath), "no folder was made")
    }

    @Test("a throttling rule from the proxies' site to the repository applies to the transfers, its rate recorded")
    func throttling() async throws {
        let environment = try await JobEnvironment.make(vms: 2, diskSize: 1 << 20)
        defer { environment.remove() }
        try await environment.addThrottlingRule("wan", to: "repo", bytesPerSecond: 50_000_000)
        let report = try await run(environment)
        #expect(report.finished.result == "success")
        let applied = try await environment.database.administratorQuery(
            "SELECT data->>'rule_name', (data->>'bytes_per_second')::bigint, (data->>'sessions_sharing')::int FROM tidemark.events WHERE event_type = 'ThrottleApplied'"
        )
        #expect(applied.rowCount == 1)
        #expect(try applied.decode(0, 0, as: String.self) == "wan")
        #expect(try applied.decode(0, 1, as: Int64.self) == 50_000_000)
        #expect(try applied.decode(0, 2, as: Int32.self) == 1)
    }

    @Test("a second Job Manager cannot run a session another one runs")
    func sessionOwnership() async throws {
        let environment = try await JobEnvironment.make(vms: 1, diskSize: 1 << 20)
        defer { environment.remove() }
        let manager = JobManager(store: environment.database.eventStore())
        let session = try await manager.begin(job: environment.jobName, trigger: "manual")
        let holder = try await TaskSlots(settings: environment.database.service)
        #expect(try await holder.own(session: session))
        await #expect {
            _ = try await manager.run(session: session)
        } throws: { error in
            (error as? JobManagerError)?.code == .sessionBusy
        }
        await holder.close()
        #expect(try await manager.run(session: session).finished.result == "success")
    }
}

@Suite("Task slots")
struct TaskSlotTests {
    @Test("a slot is taken once, by one task of one session or another session, and freed when given back or disconnected")
    func slots() async throws {
        let database = try await TestDatabase.create()
        let first = try await TaskSlots(settings: database.service)
        let second = try await TaskSlots(settings: database.service)
        #expect(try await first.take(.proxy, "p", limit: 2) == 0)
        #expect(try await first.take(.proxy, "p", limit: 2) == 1)
        #expect(try await first.take(.proxy, "p", limit: 2) == nil)
        #expect(try await second.take(.proxy, "p", limit: 2) == nil)
        #expect(try await second.inUse(.proxy, "p") == 2)
        try await first.give(.proxy, "p", slot: 0)
        #expect(try await second.take(.proxy, "p", limit: 2) == 0)
        await first.close()
        // The backend ends a moment after the connection closes; its locks with it.
        var freed: Int?
        for _ in 0..<100 where freed == nil {
            freed = try await second.take(.proxy, "p", limit: 2)
            if freed == nil { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(freed == 1)
        await second.close()
    }

    @Test("slots of several objects are counted in one call and given back together; another connection's claims stay")
    func batches() async throws {
        let database = try await TestDatabase.create()
        let first = try await TaskSlots(settings: database.service)
        let second = try await TaskSlots(settings: database.service)
        #expect(try await first.take(.repository, "r", limit: 3) == 0)
        #expect(try await second.take(.repository, "r", limit: 3) == 1)
        #expect(try await first.take(.proxy, "a", limit: 1) == 0)
        #expect(try await first.take(.proxy, "a", limit: 0) == nil)
        #expect(try await first.inUse(.proxy, ["a", "b", "a"]) == ["a": 1, "b": 0])
        #expect(try await second.inUse(.repository, "r") == 2)
        // The lowest free number, skipping this connection's own claims.
        #expect(try await first.take(.repository, "r", limit: 3) == 2)
        #expect(try await first.take(.repository, "r", limit: 3) == nil)
        try await first.give([(.repository, "r", 0), (.proxy, "a", 0), (.repository, "r", 1)])
        // Slot 1 is the second connection's: giving it back from the first changes nothing.
        #expect(try await second.inUse(.repository, "r") == 2)
        #expect(try await second.inUse(.proxy, ["a"]) == ["a": 0])
        #expect(try await second.take(.repository, "r", limit: 3) == 0)
        await first.close()
        await second.close()
    }

    @Test("parallel tasks of one session respect the repository's and the proxies' limits; every disk of two-disk VMs restores")
    func limitsWithinASession() async throws {
        // Six VMs of two disks and three repository slots, checkpoints every 256 KiB: the
        // disks of one VM finish while their siblings save progress (issue 11's race).
        let environment = try await JobEnvironment.make(vms: 6, diskSize: 2 << 20, disksPerVM: 2)
        defer { environment.remove() }
        let manager = JobManager(
            store: environment.database.eventStore(),
            settings: JobManagerSettings(checkpointBytes: 256 << 10, slotPollInterval: .milliseconds(10), retryWait: .zero))
        let session = try await manager.begin(job: environment.jobName, trigger: "manual")
        let report = try await manager.run(session: session)
        #expect(report.finished.result == "success", "\(report.finished.reason ?? "")")
        let outcome = try await environment.outcome()
        #expect(outcome.restored.count == 12)
        #expect(outcome.snapshotsLeft == 0)
        // Replay the log: tasks running at once, in all and per proxy, never above the limits
        // (repository 3, proxy-1 2, proxy-2 1).
        let events = try await environment.database.administratorQuery(
            "SELECT event_type, data->>'task_id', data->>'proxy_name' FROM tidemark.events WHERE event_type IN ('ProxySelected', 'TaskFinished') ORDER BY position"
        )
        var running: [String: String] = [:]
        var most = 0
        var mostPerProxy: [String: Int] = [:]
        for row in 0..<events.rowCount {
            let type: String = try events.decode(row, 0), task: String = try events.decode(row, 1)
            if type == "ProxySelected" {
                running[task] = try events.decode(row, 2)
            } else {
                running[task] = nil
            }
            most = max(most, running.count)
            for (proxy, count) in Dictionary(grouping: running.values, by: { $0 }).mapValues(\.count) {
                mostPerProxy[proxy] = max(mostPerProxy[proxy] ?? 0, count)
            }
        }
        #expect(most <= 3 && most >= 2)
        #expect((mostPerProxy["proxy-1"] ?? 0) <= 2 && (mostPerProxy["proxy-2"] ?? 0) <= 1)
        #expect(mostPerProxy.count == 2)
    }
}
