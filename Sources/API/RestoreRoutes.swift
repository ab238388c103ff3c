import BlockingIO
import Catalog
import EventStore
import Foundation
import Hummingbird
import Identity
import JobManager
import WorkflowEvents

/// `POST /api/v1/restores`: a restore asked for over HTTP, checked by the same planner as
/// `tidemark restore` and recorded as `RestoreRequested` with the API user as actor; the
/// server's restore runner takes it up within a second. 202 with the restore's URL and its
/// events, followed live as a session's are.
struct RestoreRoutes {
    let restores: RestoreManager
    let sessions: SessionRoutes
    let body: RestoreRequestBody

    func add(to group: RouterGroup<APIContext>) {
        group.post("restores", use: request)
        group.get("restores/:id/events") { request, context in
            _ = try context.require(.readSessions)
            let id = try APIRequest.sessionID(context)
            return try await sessions.events(
                request, stream: RestoreEvent.stream(of: id), finishedBy: RestoreEvent.Kind.finished.rawValue,
                missing: "no restore has the id \(id): see GET /api/v1/restores")
        }
    }

    @Sendable func request(_ request: Request, context: APIContext) async throws -> Response {
        let user = try context.require(.restore)
        var request = request
        var fields = try await DefinitionBody.json(&request, context: context)
        // Files go into a folder of this request's own, made new: no earlier restore's output
        // (a guest's symbolic links among it) lies on the way, and two requests never share one.
        let folder = (body.root as NSString).appendingPathComponent(UUID().uuidString.lowercased())
        let order = try body.order(&fields, folder: folder)
        let scope = user.scope
        var jobServers: [String: String] = [:]
        if let scope {
            // Before the planner, which would describe VMs and targets outside the limit.
            try await ScopeCheck.points(
                vms: order.vms, point: order.point, scope: scope, user: user.name, catalog: RestorePointCatalog(store: restores.store))
            jobServers = try await restores.catalog.load().jobs.mapValues(\.definition.server)
        }
        let writesFiles = try await body.prepare(folder, for: order)
        let id: String
        do {
            id = try await restores.request(order, metadata: APIRequest.metadata(context)) { [jobServers] requested in
                try ScopeCheck.admit(requested, order: order, scope: scope, jobServers: jobServers, user: user.name)
            }
        } catch {
            // Nothing of a refused request stays: not even its empty folder.
            if writesFiles { await body.discard(folder) }
            if let error = error as? RestoreError { throw APIProblem(error) }
            throw error
        }
        let url = "/api/v1/restores/\(id)"
        var reply: [String: Any] = ["restore_id": id, "url": url, "events": "\(url)/events"]
        if writesFiles { reply["folder"] = folder }
        return try JSONResponse.object(reply, status: .accepted, headers: [.location: url])
    }
}

extension RestoreRequestBody {
    /// Makes the restore folder (0700) and this request's folder in it, with the folders the
    /// request's path names under it, when the order writes files; true when it did. An export
    /// writes into its folder, which must exist: it is made too; a disk's file and a guest
    /// files' folder (which must be new or empty) get their parent. Nothing stays when a part
    /// cannot be made.
    func prepare(_ folder: String, for order: RestoreOrder) async throws -> Bool {
        let made: String
        switch order.destination {
        case .diskFile(_, let file, _): made = (file as NSString).deletingLastPathComponent
        case .guestFiles(_, _, let target, _): made = (target as NSString).deletingLastPathComponent
        case .export(let target, _): made = target
        case .vm, .diskToVM: return false
        }
        let root = self.root
        let failure = await BlockingIOPool.shared.run { () -> String? in
            let files = FileManager.default
            do {
                try files.createDirectory(atPath: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                // New, so nothing in it is anyone's link; its own parts are made here too.
                try files.createDirectory(atPath: folder, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
                if made != folder {
                    try files.createDirectory(atPath: made, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                }
                return nil
            } catch {
                try? files.removeItem(atPath: folder)
                return (error as NSError).localizedDescription
            }
        }
        if let failure { throw APIProblem.badRequest("the restore's folder could not be made in the server's restore folder: \(failure)") }
        return true
    }

    /// Removes a refused request's folder (empty: nothing was written).
    func discard(_ folder: String) async {
        await BlockingIOPool.shared.run { try? FileManager.default.removeItem(atPath: folder) }
    }
}

extension APIProblem {
    /// A refused restore or publish, under the status that says why.
    init(_ error: RestoreError) {
        switch error.code {
        case .invalidRequest: self = .badRequest(error.message)
        case .noSuchRestorePoint, .noSuchRestore: self = .notFound(error.message)
        case .targetExists, .insufficientSpace, .busy, .io: self.init(.conflict, error.message)
        }
    }
}
