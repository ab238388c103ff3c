import Catalog
import EventStore
import Foundation
import Hummingbird
import Identity
import JobManager
import Postgres
import WorkflowEvents

/// `/api/v1/jobs`: the jobs as `reporting.jobs` shows them, their definitions (``JobDefinitionRoutes``),
/// and starting and stopping one.
struct JobRoutes {
    let store: EventStore
    let manager: JobManager
    let starts = StartsUnderWay()

    var catalogRoutes: CatalogRoutes { CatalogRoutes(store: store, catalog: manager.catalog) }

    func add(to group: RouterGroup<APIContext>) {
        JobDefinitionRoutes(routes: catalogRoutes).add(to: group)
        JobHistoryRoutes(catalog: manager.catalog).add(to: group)
        group.post("jobs/:name/start", use: start)
        group.post("jobs/:name/stop", use: stop)
    }

    /// Begins a session and answers 202 at once with its URL, as Proxmox Backup Server answers
    /// with a task id: a running server's Job Managers take it up within a second. A session of
    /// the job that is still unfinished is answered with 409 and its URL instead.
    @Sendable func start(_ request: Request, context: APIContext) async throws -> Response {
        _ = try context.require(.runJobs)
        let name = try APIRequest.name(context)
        let catalog = try await manager.catalog.load()
        guard let jobID = catalog.id(of: JobDefinition.self, named: name) else { throw try await unknownJob(name) }
        // Two starts of one job at once (a double click, a client's retry) would both find no
        // session running: one at a time per job in this server.
        guard await starts.enter(jobID) else {
            throw APIProblem(.conflict, "a start of job '\(name)' is under way: follow GET /api/v1/sessions?job=\(percentEncoded(name))")
        }
        do {
            let response = try await begin(name, context: context)
            await starts.leave(jobID)
            return response
        } catch {
            await starts.leave(jobID)
            throw error
        }
    }

    func begin(_ name: String, context: APIContext) async throws -> Response {
        if let running = try await manager.unfinishedSessions(job: name).first {
            var problem = APIProblem(
                .conflict, "job '\(name)' has an unfinished session \(running): follow it at /api/v1/sessions/\(running)")
            problem.headers[.location] = "/api/v1/sessions/\(running)"
            throw problem
        }
        let session: String
        do {
            session = try await manager.begin(job: name, trigger: .manual, requester: APIRequest.metadata(context))
        } catch let error as CatalogError {
            throw APIProblem(.conflict, error.message)
        }
        return try JSONResponse.object(
            ["session_id": session, "url": "/api/v1/sessions/\(session)", "events": "/api/v1/sessions/\(session)/events"],
            status: .accepted, headers: [.location: "/api/v1/sessions/\(session)"])
    }

    /// Asks the job's running session to stop (`?mode=immediate` to cancel its transfers).
    @Sendable func stop(_ request: Request, context: APIContext) async throws -> Response {
        _ = try context.require(.runJobs)
        let name = try APIRequest.name(context)
        let mode: ControlEvent.StopRequested.Mode
        switch request.uri.queryParameters.get("mode") ?? "graceful" {
        case "graceful": mode = .graceful
        case "immediate": mode = .immediate
        case let other: throw APIProblem.badRequest("mode is graceful or immediate, not '\(other)'")
        }
        let catalog = try await manager.catalog.load()
        guard catalog.id(of: JobDefinition.self, named: name) != nil else { throw try await unknownJob(name) }
        guard let session = try await manager.unfinishedSessions(job: name).first else {
            throw APIProblem(.conflict, "job '\(name)' has no running session")
        }
        try await manager.requestStop(session: session, mode: mode, metadata: APIRequest.metadata(context))
        return try JSONResponse.object(
            ["session_id": session, "url": "/api/v1/sessions/\(session)", "mode": mode.rawValue], status: .accepted,
            headers: [.location: "/api/v1/sessions/\(session)"])
    }

    func unknownJob(_ name: String) async throws -> APIProblem {
        try await catalogRoutes.unknown(name, CatalogRoutes.jobs)
    }
}

func percentEncoded(_ text: String) -> String {
    text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
}

/// The jobs whose start this server is deciding now.
actor StartsUnderWay {
    private var jobs: Set<String> = []

    func enter(_ job: String) -> Bool { jobs.insert(job).inserted }
    func leave(_ job: String) { jobs.remove(job) }
}
