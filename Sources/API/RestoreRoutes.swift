import BlockingIO
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
        let order = try body.order(&fields)
        try await body.prepareFolder(for: order)
        let scope = user.scope
        let id: String
        do {
            id = try await restores.request(order, metadata: APIRequest.metadata(context)) { requested in
                try ScopeCheck.admit(requested, order: order, scope: scope, user: user.name)
            }
        } catch let error as RestoreError {
            throw APIProblem(error)
        }
        let url = "/api/v1/restores/\(id)"
        return try JSONResponse.object(
            ["restore_id": id, "url": url, "events": "\(url)/events"], status: .accepted, headers: [.location: url])
    }
}

extension RestoreRequestBody {
    /// Makes the restore folder (0700) when the order writes files, and refuses a path whose
    /// folder leads out of it through a symbolic link.
    func prepareFolder(for order: RestoreOrder) async throws {
        let path: String
        switch order.destination {
        case .diskFile(_, let file, _): path = file
        case .export(let folder, _), .guestFiles(_, _, let folder, _): path = folder
        case .vm, .diskToVM: return
        }
        let root = folder
        let escapes = try await BlockingIOPool.shared.run { () throws -> Bool in
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let resolvedRoot = URL(fileURLWithPath: root).resolvingSymlinksInPath().path
            let parent = URL(fileURLWithPath: (path as NSString).deletingLastPathComponent).resolvingSymlinksInPath().path
            return parent != resolvedRoot && !parent.hasPrefix(resolvedRoot + "/")
        }
        if escapes { throw APIProblem.badRequest("the path leads out of the server's restore folder through a symbolic link") }
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
