import Catalog
import CatalogStore
import EventStore
import Foundation
import Hummingbird
import JobManager

/// `POST /api/v1/servers/{name}/check`: connects to the managed server as a session would
/// (``JobManager/checkServer(_:id:metadata:)``) and answers the check's row of
/// `reporting.server_checks`: the certificate's thumbprint and whether it is pinned, the
/// product, what it holds, or why it cannot be used. Administrators only: a check logs in
/// with the server's stored credentials, and a vCenter counts failed logins.
struct ServerCheckRoutes {
    let manager: JobManager
    let catalogRoutes: CatalogRoutes
    let reports: ReportRoutes

    func add(to group: RouterGroup<APIContext>) {
        group.post("servers/:name/check", use: check)
    }

    @Sendable func check(_ request: Request, context: APIContext) async throws -> Response {
        _ = try context.require(.editCatalog)
        let name = try APIRequest.name(context)
        let state = try await manager.catalog.load()
        guard let id = state.id(of: ManagedServer.self, named: name), let server = state.servers[id]?.definition else {
            throw try await catalogRoutes.unknown(name, CatalogRoutes.servers)
        }
        let outcome = try await manager.checkServer(server, id: id, metadata: APIRequest.metadata(context))
        return try await reports.one(outcome.checkId, ReportRoutes.serverChecks)
    }
}
