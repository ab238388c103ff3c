import Catalog
import CatalogStore
import CommandLineSupport
import EventStore
import Foundation
import Infrastructure
import JobManager
import Logging

/// A one-VM lab, its server, a proxy, a repository and a job named `bench` that backs the VM
/// up: what the publish and files benches back up before they measure.
enum BenchLabJob {
    static func make(
        in folder: URL, diskSize: Int64, blockSize: String? = nil, indexGuestFiles: Bool = false, store: EventStore
    ) async throws -> LabAdapter {
        let lab = try LabAdapter.create(at: folder.appendingPathComponent("lab").path, vms: 1, disksPerVM: 1, diskSize: diskSize)
        try await CatalogStore(events: store).execute(metadata: EventMetadata(actor: "bench")) { start throws(CatalogError) in
            var plan = CatalogPlan(start)
            try plan.add(ManagedServer(name: "lab", platform: .lab, folder: lab.root))
            try plan.add(ProxyDefinition(name: "proxy", maxConcurrentTasks: 2))
            try plan.add(
                RepositoryDefinition(
                    name: "repo", path: folder.appendingPathComponent("repository").path, maxConcurrentTasks: 2,
                    freeSpaceThresholdPercent: 0))
            var settings = JobSettings()
            settings.name = "bench"
            settings.server = "lab"
            settings.repository = "repo"
            settings.objects = ["vm:lab-vm-01"]
            settings.timeZone = "UTC"
            settings.blockSize = blockSize
            settings.indexGuestFiles = indexGuestFiles
            try plan.add(try settings.definition(base: nil, in: plan.state, defaultTimeZone: "UTC"))
            return plan.changes
        }
        return lab
    }

    /// Runs the `bench` job once; refused unless it succeeds. Returns the session's id.
    @discardableResult
    static func backUp(_ jobs: JobManager) async throws -> String {
        let session = try await jobs.begin(job: "bench", trigger: .manual)
        let backup = try await jobs.run(session: session)
        guard backup.finished.result == .success else {
            throw CommandFailure("the bench backup failed: \(backup.finished.reason ?? "")")
        }
        return session
    }
}
