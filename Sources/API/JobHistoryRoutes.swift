import Catalog
import CatalogStore
import EventStore
import Foundation
import Hummingbird

/// `GET /api/v1/jobs/{name}/history`: every change to a job, newest first, field by field
/// (before and after, as `tidemark job history` prints them) with who made it and when. Read
/// from the job's own stream, not a projection, so a change shows as soon as it is appended.
/// A job's former name finds it too, as does a removed job's last name.
struct JobHistoryRoutes {
    let catalog: CatalogStore

    func add(to group: RouterGroup<APIContext>) {
        group.get("jobs/:name/history", use: history)
    }

    @Sendable func history(_ request: Request, context: APIContext) async throws -> Response {
        _ = try context.require(.readCatalog)
        let name = try APIRequest.name(context)
        let limit = try APIRequest.limit(request)
        let before = try Self.before(request)
        let state = try await catalog.load()
        let id = try APIRequest.jobID(name, in: state)
        let entries = try JobHistory.entries(try await catalog.history(of: .job, id: id), names: state)
        let page = entries.reversed().filter { before == nil || $0.version < before! }.prefix(limit)
        let next: String =
            if page.count == limit, let last = page.last, last.version > 1 {
                "\"/api/v1/jobs/\(percentEncoded(name))/history?limit=\(limit)&before=\(last.version)\""
            } else {
                "null"
            }
        let jobName = state.jobs[id]?.definition.name ?? state.name(of: id)
        return JSONResponse.text(
            #"{"job_name":\#(JSONString.quoted(jobName)),"items":[\#(page.map(\.json).joined(separator: ","))],"next":\#(next)}"#)
    }

    /// `before=V`: continue with the changes older than version V (the `next` link sets it).
    static func before(_ request: Request) throws -> Int64? {
        guard let text = request.uri.queryParameters.get("before") else { return nil }
        guard let value = Int64(text), value >= 1 else {
            throw APIProblem.badRequest("before must be a job version, a whole number from 1; '\(text)' is not")
        }
        return value
    }
}
