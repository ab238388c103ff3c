import Catalog
import CatalogStore
import EventStore
import Foundation
import Infrastructure
import JobManager
import TestSupport
import Testing

@Suite("Stopping a session")
struct StopTests {
    /// A job slowed by a 400 kB/s throttling rule, so a stop arrives mid-transfer even on a
    /// loaded machine (a 2 MiB disk takes five seconds).
    static func slowJob(vms: Int, parallel: Bool) async throws -> (JobEnvironment, JobManager) {
        let environment = try await JobEnvironment.make(vms: vms, diskSize: 2 << 20, parallel: parallel)
        let store = environment.database.eventStore()
        try await CatalogStore(events: store).execute(metadata: EventMetadata(actor: "test")) { state throws(CatalogError) in
            try CatalogDecider.add(ThrottlingRule(name: "slow", bytesPerSecond: 400_000), id: UUID().uuidString.lowercased(), in: state)
        }
        return (environment, JobManager(store: store, settings: JobManagerSettings(checkpointBytes: 1 << 20, retryWait: .zero)))
    }

    static func waitFor(_ type: String, in environment: JobEnvironment) async throws {
        for _ in 0..<200 {
            let count: Int64 = try await environment.database.administratorQuery(
                "SELECT count(*) FROM tidemark.events WHERE event_type = $1", [type]
            ).decode(0, 0)
            if count > 0 { return }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw TestSetupError("no \(type) event appeared")
    }

    @Test("stopped before it starts, a session starts no VM and says who stopped it")
    func stoppedBeforeStart() async throws {
        let (environment, manager) = try await Self.slowJob(vms: 2, parallel: true)
        defer { environment.remove() }
        let session = try await manager.begin(job: environment.jobName, trigger: "manual")
        try await manager.requestStop(session: session, mode: .graceful, metadata: EventMetadata(actor: "cli:alice"))
        let report = try await manager.run(session: session)
        #expect(report.finished.result == "stopped")
        #expect(report.finished.reason == "stopped by cli:alice (graceful)")
        #expect(report.machines.allSatisfy { $0.result == "stopped" && $0.restorePoint == nil })
        #expect(try await environment.outcome().snapshotsLeft == 0)
    }

    @Test("an immediate stop cuts the transfer, removes the snapshot and keeps no restore point")
    func immediate() async throws {
        let (environment, manager) = try await Self.slowJob(vms: 1, parallel: true)
        defer { environment.remove() }
        let session = try await manager.begin(job: environment.jobName, trigger: "manual")
        let running = Task { try await manager.run(session: session) }
        try await Self.waitFor("TransferStarted", in: environment)
        try await manager.requestStop(session: session, mode: .immediate, metadata: EventMetadata(actor: "cli:bob"))
        let report = try await running.value
        #expect(report.finished.result == "stopped")
        #expect(report.machines.first?.restorePoint == nil)
        let outcome = try await environment.outcome()
        #expect(outcome.snapshotsLeft == 0 && outcome.restorePointsCreated == 0)
    }

    @Test("a graceful stop lets the VM in progress finish and starts no other")
    func graceful() async throws {
        let (environment, manager) = try await Self.slowJob(vms: 2, parallel: false)
        defer { environment.remove() }
        let session = try await manager.begin(job: environment.jobName, trigger: "manual")
        let running = Task { try await manager.run(session: session) }
        try await Self.waitFor("TransferStarted", in: environment)
        try await manager.requestStop(session: session, mode: .graceful, metadata: EventMetadata(actor: "cli:carol"))
        let report = try await running.value
        #expect(report.finished.result == "stopped")
        #expect(report.machines.map(\.result) == ["success", "stopped"])
        let outcome = try await environment.outcome()
        #expect(outcome.snapshotsLeft == 0 && outcome.restorePointsCreated == 1)
    }
}
