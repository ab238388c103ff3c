import Catalog
import CatalogStore
import Foundation
import WorkflowEvents

/// What a session works with, resolved once when it is taken up: the job as of the version
/// the session began with (a later edit changes the next session, not this one), and the
/// server, repository, proxies and throttling rules it names as they are now.
struct SessionPlan: Sendable {
    let session: String
    let jobID: UUIDString
    let job: JobDefinition
    let server: ManagedServer
    /// The server's catalog version: a proxy process reads the catalog again when its copy is older.
    let serverVersion: Int64
    let repositoryID: UUIDString
    let repository: RepositoryDefinition
    /// The job's proxies with their ids (all of the catalog's when it names none), by name.
    let proxies: [(UUIDString, ProxyDefinition)]
    /// Every throttling rule with its id, by name: which apply is decided per transfer.
    let throttlingRules: [(UUIDString, ThrottlingRule)]

    /// Reads the catalog once; a job, server or repository that no longer exists is refused
    /// as a permanent error (the session then ends failed with the reason).
    static func resolve(session: String, started: SessionEvent.Started, catalog store: CatalogStore) async throws -> SessionPlan {
        guard let jobID = started.jobId else {
            throw JobManagerError(.invalidJob, "session \(session) names no job")
        }
        let catalog = try await store.load()
        var asDefined = CatalogState()
        for event in try await store.history(of: .job, id: jobID) where event.streamVersion <= (started.jobVersion ?? .max) {
            asDefined.apply(CatalogEventRecord(event))
        }
        guard let job = asDefined.jobs[jobID]?.definition ?? catalog.jobs[jobID]?.definition else {
            throw JobManagerError(.invalidJob, "the job of session \(session) (\(started.jobName ?? jobID)) no longer exists")
        }
        guard let serverEntry = catalog.servers[job.server] else {
            throw JobManagerError(
                .invalidJob, "job '\(job.name)': its managed server \(catalog.label(.server, job.server)) no longer exists")
        }
        guard let repository = catalog.repositories[job.repository]?.definition else {
            throw JobManagerError(
                .invalidJob, "job '\(job.name)': its repository \(catalog.label(.repository, job.repository)) no longer exists")
        }
        let chosen = job.proxies.isEmpty ? Array(catalog.proxies.keys) : job.proxies
        return SessionPlan(
            session: session, jobID: jobID, job: job, server: serverEntry.definition, serverVersion: serverEntry.version,
            repositoryID: job.repository, repository: repository,
            proxies: chosen.compactMap { id in catalog.proxies[id].map { (id, $0.definition) } }.sorted { $0.1.name < $1.1.name },
            throttlingRules: catalog.throttlingRules.map { ($0.key, $0.value.definition) }.sorted { $0.1.name < $1.1.name })
    }
}
