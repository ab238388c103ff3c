import Catalog
import CatalogStore
import EventStore
import Foundation
import Infrastructure
import JobManager
import Projections
import TestSupport
import Testing

/// What a session says about how it ended: the reasons behind every result, selectors that
/// match nothing, retried snapshots, sessions that cannot run, and the reporting views
/// that show all of it without a server running.
@Suite("Sessions: results and their reasons")
struct SessionOutcomeTests {
    func run(_ environment: JobEnvironment) async throws -> SessionReport { try await environment.runInProcess() }

    func update(
        _ environment: JobEnvironment, _ change: @escaping @Sendable (inout JobDefinition) throws(CatalogError) -> Void
    ) async throws {
        try await environment.updateJob(change)
    }

    func labNames(_ environment: JobEnvironment) async throws -> [String] {
        try await LabAdapter(root: environment.labPath).inventory().virtualMachines.map(\.name).sorted()
    }

    @Test("a job whose objects match nothing fails naming them; one selector matching nothing makes a warning naming it")
    func selectorsMatchingNothing() async throws {
        let environment = try await JobEnvironment.make(vms: 2, diskSize: 1 << 20)
        defer { environment.remove() }
        try await update(environment) { job throws(CatalogError) in
            job.objects = [try ObjectSelector(parsing: "vm:web-01"), try ObjectSelector(parsing: "folder:/DC1/vm/Prod")]
        }
        let nothing = try await run(environment)
        #expect(nothing.finished.result == "failed")
        #expect(
            nothing.finished.reason?.hasPrefix("no VM matches vm:web-01, folder:/DC1/vm/Prod") == true, "\(nothing.finished.reason ?? "")")
        #expect(nothing.machines.isEmpty)

        let first = try await labNames(environment)[0]
        try await update(environment) { job throws(CatalogError) in
            job.objects = [try ObjectSelector(parsing: "vm:\(first)"), try ObjectSelector(parsing: "vm:web-01")]
        }
        let partly = try await run(environment)
        #expect(partly.finished.result == "warning")
        #expect(partly.finished.reason == "vm:web-01 matches no VM")
        #expect(partly.machines.map(\.result) == ["success"])
    }

    @Test("why a VM failed is in the report, the session's reason, session show and the reporting views")
    func failureReasonsEverywhere() async throws {
        let environment = try await JobEnvironment.make(vms: 3, diskSize: 1 << 20)
        defer { environment.remove() }
        var faults = LabFaults()
        faults.snapshotFailure = ["vm-2"]
        try LabAdapter(root: environment.labPath).setFaults(faults)
        let report = try await run(environment)
        #expect(report.finished.result == "failed")
        let failed = try #require(report.machines.first { $0.id == "vm-2" })
        #expect(failed.reason?.contains("disk-2000: snapshot:") == true && failed.reason?.contains("injected snapshot failure") == true)
        #expect(report.machines.filter { $0.id != "vm-2" }.allSatisfy { $0.reason == nil })
        let reason = try #require(report.finished.reason)
        #expect(reason.hasPrefix("1 of 3 VMs failed: \(failed.name) (disk-2000: snapshot:"), "\(reason)")

        // The views, caught up by the command that appended (here: by hand, as a server would).
        try await Projector(store: environment.database.eventStore()).catchUp()
        let session = try await environment.database.administratorQuery(
            "SELECT reason FROM reporting.sessions WHERE session_id = $1", [report.session])
        #expect(try session.decode(0, 0, as: String.self) == reason)
        let job = try await environment.database.administratorQuery("SELECT last_result, last_reason FROM reporting.jobs")
        #expect(try job.decode(0, 0, as: String.self) == "failed")
        #expect(try job.decode(0, 1, as: String.self) == reason)
        let task = try await environment.database.administratorQuery(
            "SELECT message FROM reporting.tasks WHERE session_id = $1 AND task_id = 'vm-2/2000'", [report.session])
        #expect(try task.decode(0, 0, as: String.self).contains("injected snapshot failure"))
        let shown = try environment.tidemark(["session", "show", String(report.session.prefix(8))])
        #expect(shown.output.contains("reason:      1 of 3 VMs failed"), "\(shown.output)")
        let jobShown = try environment.tidemark(["job", "show", environment.jobName])
        #expect(jobShown.output.contains("failed — 1 of 3 VMs failed"), "\(jobShown.output)")
    }

    @Test("a VM whose snapshot fails once is retried inside the session and ends with a warning that says so")
    func snapshotRetried() async throws {
        let environment = try await JobEnvironment.make(vms: 2, diskSize: 1 << 20, disksPerVM: 2)
        defer { environment.remove() }
        var faults = LabFaults()
        faults.passingSnapshotFailures = ["vm-1": 1]
        try LabAdapter(root: environment.labPath).setFaults(faults)
        let report = try await run(environment)
        #expect(report.finished.result == "warning", "\(report.finished.reason ?? "")")
        let retried = try #require(report.machines.first { $0.id == "vm-1" })
        #expect(retried.restorePoint != nil)
        #expect(retried.reason?.hasPrefix("succeeded after a retry (disk-2000: snapshot:") == true, "\(retried.reason ?? "")")
        let outcome = try await environment.outcome()
        #expect(outcome.restorePointsCreated == 2 && outcome.restored.count == 4 && outcome.snapshotsLeft == 0)
        // Spent retries fail the VM: one failure per attempt, the first and each retry.
        faults.passingSnapshotFailures = ["vm-1": 5]
        try LabAdapter(root: environment.labPath).setFaults(faults)
        let spent = try await run(environment)
        #expect(spent.finished.result == "failed")
        let failures = try await environment.database.administratorQuery(
            "SELECT count(*) FROM tidemark.events WHERE event_type = 'TaskFinished' AND stream_id = $1 AND data->>'task_id' = 'vm-1/2000'",
            ["session-\(spent.session)"])
        let job = try await CatalogStore(events: environment.database.eventStore()).load().jobs.values.first!.definition
        #expect(try failures.decode(0, 0, as: Int64.self) == Int64(job.retry.count + 1))
    }

    @Test("a repository path that is a file fails the session with the reason instead of leaving it running")
    func repositoryThatIsAFile() async throws {
        let environment = try await JobEnvironment.make(vms: 1, diskSize: 1 << 20)
        defer { environment.remove() }
        let file = environment.folder.appendingPathComponent("not-a-folder")
        try Data("x".utf8).write(to: file)
        // A catalog written before the check (the command line refuses such a path now).
        let catalog = CatalogStore(events: environment.database.eventStore())
        try await catalog.execute(metadata: EventMetadata(actor: "test")) { state throws(CatalogError) in
            try CatalogDecider.update(id: try state.require(RepositoryDefinition.self, named: "repo"), basedOn: nil, in: state) {
                (repository: inout RepositoryDefinition) in repository.path = file.path
            }
        }
        let run = try environment.tidemark(["job", "start", environment.jobName])
        #expect(run.status != 0)
        #expect(run.output.contains("failed — ") && run.output.contains("is a file, not a folder"), "\(run.output)")
        let unfinished = try await JobManager(store: environment.database.eventStore()).unfinishedSessions()
        #expect(unfinished.isEmpty)
        let refused = try environment.tidemark(["repository", "update", "repo", "--path", file.path])
        #expect(refused.status != 0 && refused.output.contains("is a file, not a folder"), "\(refused.output)")
    }

    @Test("job stop ends a session no Job Manager runs, recorded as stopped by whom")
    func stopWithoutRunner() async throws {
        let environment = try await JobEnvironment.make(vms: 2, diskSize: 1 << 20)
        defer { environment.remove() }
        let manager = JobManager(store: environment.database.eventStore())
        let session = try await manager.begin(job: environment.jobName, trigger: "manual")
        let stop = try environment.tidemark(["job", "stop", environment.jobName, "--actor", "alice"])
        #expect(stop.status == 0, "\(stop.output)")
        #expect(stop.output.contains("session \(session) stopped: no Job Manager was running it"), "\(stop.output)")
        #expect(try await manager.unfinishedSessions().isEmpty)
        let finished = try await environment.database.administratorQuery(
            "SELECT data->>'result', data->>'reason' FROM tidemark.events WHERE event_type = 'SessionFinished' AND stream_id = $1",
            ["session-\(session)"])
        #expect(try finished.decode(0, 0, as: String.self) == "stopped")
        #expect(try finished.decode(0, 1, as: String.self).hasPrefix("stopped by alice (cli:"))
        #expect(try await environment.outcome().snapshotsLeft == 0)
        // Nothing left to stop now: said plainly.
        let again = try environment.tidemark(["job", "stop", environment.jobName])
        #expect(again.status != 0 && again.output.contains("has no session running"))
    }

    @Test("commands that append leave the reporting views caught up; every catalog change names its object")
    func reportingStaysFresh() async throws {
        let environment = try await JobEnvironment.make(vms: 2, diskSize: 1 << 20)
        defer { environment.remove() }
        for _ in 0..<3 { try await environment.runJob() }
        let points = try await environment.database.administratorQuery("SELECT count(*) FROM reporting.restore_points")
        #expect(try points.decode(0, 0, as: Int64.self) == 6)
        let lag = try await environment.database.administratorQuery(
            "SELECT max(events_behind), max(seconds_behind) FROM reporting.projection_status")
        #expect(try lag.decode(0, 0, as: Int64.self) == 0)
        #expect(try lag.decode(0, 1, as: Double.self) == 0)
        for command in [["job", "disable", environment.jobName], ["job", "enable", environment.jobName]] {
            let run = try environment.tidemark(command)
            #expect(run.status == 0, "\(run.output)")
        }
        let changes = try await environment.database.administratorQuery(
            "SELECT change, object_name FROM reporting.catalog_changes ORDER BY position")
        #expect(changes.rowCount >= 6)
        for row in 0..<changes.rowCount {
            let change: String = try changes.decode(row, 0)
            let name: String? = try changes.decodeIfPresent(row, 1)
            #expect(name != nil, "\(change) names no object")
            if change == "JobEnabled" || change == "JobDisabled" { #expect(name == environment.jobName) }
        }
    }
}
