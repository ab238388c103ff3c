import Catalog
import CatalogStore
import EventStore
import Foundation

/// The demo's catalog: a lab server, a repository, two proxies and a job over the lab's VMs,
/// added on the first run (through the same commands an administrator uses) and reused later.
struct DemoCatalog {
    struct Job {
        let id: UUIDString
        let name: String
        let version: Int64
        let proxies: [(id: UUIDString, name: String, maxTasks: Int)]
    }

    static let jobName = "demo"

    static func ensure(_ catalog: CatalogStore, labFolder: String, repositoryPath: String, vms: [String]) async throws -> Job {
        let metadata = EventMetadata(correlationID: UUID(), actor: "cli:demo", host: ProcessInfo.processInfo.hostName)
        try await catalog.execute(metadata: metadata) { start throws(CatalogError) in
            var plan = CatalogPlan(start)
            try plan.add(ManagedServer(name: "demo-lab", platform: .lab, folder: labFolder), ifAbsent: true)
            try plan.add(RepositoryDefinition(name: "demo-repository", path: repositoryPath, maxConcurrentTasks: 4), ifAbsent: true)
            try plan.add(ProxyDefinition(name: "demo-proxy-1", maxConcurrentTasks: 2), ifAbsent: true)
            try plan.add(ProxyDefinition(name: "demo-proxy-2", maxConcurrentTasks: 2), ifAbsent: true)
            var settings = JobSettings()
            settings.name = jobName
            settings.description = "Every VM of the demo lab"
            settings.server = "demo-lab"
            settings.repository = "demo-repository"
            settings.objects = vms.map { "vm:\($0)" }
            settings.timeZone = "UTC"
            if plan.state.id(of: JobDefinition.self, named: jobName) == nil {
                try plan.add(try settings.definition(base: nil, in: plan.state, defaultTimeZone: "UTC"))
            }
            return plan.changes
        }
        let state = try await catalog.load()
        let id = try state.require(JobDefinition.self, named: jobName)
        let job = state.jobs[id]!
        let proxyIDs = job.definition.proxies.isEmpty ? Array(state.proxies.keys) : job.definition.proxies
        let proxies = proxyIDs.compactMap { id in
            state.proxies[id].map { (id: id, name: $0.definition.name, maxTasks: $0.definition.maxConcurrentTasks) }
        }
        .sorted { $0.name < $1.name }
        return Job(id: id, name: job.definition.name, version: job.version, proxies: proxies)
    }
}
