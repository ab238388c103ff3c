import Catalog
import Foundation
import Hummingbird
import NIOCore

/// Job definitions over HTTP, decided by the same ``JobDocument`` reader and
/// ``CatalogDecider`` as `tidemark job apply`: a body is one job document, in YAML or JSON,
/// with `job export`'s keys. `POST /api/v1/jobs` adds, `PUT /api/v1/jobs/{name}` replaces
/// (keys left out take their defaults, as in a file; `If-Match` required), `DELETE` removes;
/// `GET` with `Accept: application/yaml` gives the document to edit and send back.
struct JobDefinitionRoutes {
    let routes: CatalogRoutes
    var kind: CatalogRoutes.Kind { CatalogRoutes.jobs }

    /// New jobs without `time_zone` take the server's, as `job add` takes the shell's.
    static var defaultTimeZone: String { TimeZone.current.identifier }

    func add(to group: RouterGroup<APIContext>) {
        routes.add(JobDefinition.self, kind, to: group, document: exported)
        group.post("jobs", use: create)
        group.put("jobs/:name", use: replace)
    }

    /// The job as `job export` writes it, from the log (not a projection that may trail it),
    /// with the version the document is at as `ETag`: edit it and `PUT` it back.
    @Sendable func exported(_ name: String) async throws -> Response {
        let state = try await routes.catalog.load()
        guard let id = state.id(of: JobDefinition.self, named: name), let entry = state.jobs[id] else {
            throw try await routes.unknown(name, kind)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "application/yaml", .eTag: DefinitionBody.entityTag(entry.version)],
            body: .init(byteBuffer: ByteBuffer(string: JobDocument.export(JobSettings(entry.definition, in: state)))))
    }

    /// Adds the body's job; 201 with its URL and `ETag`. A name already taken is 409.
    @Sendable func create(_ request: Request, context: APIContext) async throws -> Response {
        _ = try context.require(.editCatalog)
        var request = request
        let dryRun = try DefinitionBody.dryRun(request)
        let settings = try await document(&request, context: context)
        guard let name = settings.name else {
            throw APIProblem.badRequest("the job has no 'name': a new job needs name, server, objects and repository")
        }
        let id = UUID().uuidString.lowercased()
        let timeZone = Self.defaultTimeZone
        let changes = try await routes.decide(dryRun: dryRun, context: context) { state throws(CatalogError) in
            if state.id(of: JobDefinition.self, named: name) != nil {
                throw CatalogError(
                    .duplicateName,
                    "a job named '\(name)' exists (names are compared without case): change it with PUT /api/v1/jobs/\(percentEncoded(name)) and its ETag in If-Match, or choose another name"
                )
            }
            return try CatalogDecider.add(try settings.definition(base: nil, in: state, defaultTimeZone: timeZone), id: id, in: state)
        }
        return try ChangeReply.response(changes, kind: kind, name: name, dryRun: dryRun, status: dryRun ? .ok : .created)
    }

    /// Replaces the job's definition with the body's. `If-Match` must carry the version the
    /// client read, so a change made meanwhile is refused (412) rather than overwritten; a
    /// `name` in the body renames the job.
    @Sendable func replace(_ request: Request, context: APIContext) async throws -> Response {
        _ = try context.require(.editCatalog)
        var request = request
        let name = try APIRequest.name(context)
        let dryRun = try DefinitionBody.dryRun(request)
        guard let expected = try DefinitionBody.expectedVersion(request) else {
            throw APIProblem(
                .preconditionRequired,
                "send If-Match with the job's ETag (GET /api/v1/jobs/\(percentEncoded(name))), so a change made meanwhile is not overwritten"
            )
        }
        var settings = try await document(&request, context: context)
        guard
            let entry = try await routes.catalog.load().jobs.values.first(where: {
                ObjectName.key($0.definition.name) == ObjectName.key(name)
            })
        else { throw try await routes.unknown(name, kind) }
        if settings.name == nil { settings.name = entry.definition.name }
        let wanted = settings, timeZone = Self.defaultTimeZone
        if !dryRun, let response = try await requestApprovalIfShortening(wanted, entry: entry, expected: expected, context: context) {
            return response
        }
        let changes = try await routes.decide(dryRun: dryRun, context: context) { state throws(CatalogError) in
            let id = try state.require(JobDefinition.self, named: name)
            if let current = state.jobs[id], current.version != expected {
                throw CatalogError(.staleVersion, Self.stale(name, current, expected: expected))
            }
            return try CatalogDecider.update(id: id, basedOn: expected, in: state) { (job: inout JobDefinition) throws(CatalogError) in
                job = try wanted.definition(base: nil, in: state, defaultTimeZone: timeZone)
            }
        }
        return try ChangeReply.response(
            changes, kind: kind, name: wanted.name ?? name, dryRun: dryRun, id: entry.id, unchangedVersion: expected)
    }

    /// A replacement that keeps fewer restore points (or switches between points and days)
    /// waits for a second administrator under two-person approval: 202 and the request. The
    /// change is checked first, so only one that could be applied is requested; the request
    /// carries the whole resolved document, so the approval applies exactly what was asked.
    func requestApprovalIfShortening(
        _ wanted: JobSettings, entry: CatalogEntry<JobDefinition>, expected: Int64, context: APIContext
    ) async throws -> Response? {
        let state = try await routes.catalog.load()
        // Compared with the definition at the version the client names, which never changes:
        // the decider checks that version again under the lock.
        guard let current = state.jobs[entry.id] else { throw try await routes.unknown(entry.definition.name, kind) }
        guard current.version == expected else {
            throw APIProblem(.preconditionFailed, Self.stale(entry.definition.name, current, expected: expected))
        }
        let definition: JobDefinition
        do {
            definition = try wanted.definition(base: nil, in: state, defaultTimeZone: Self.defaultTimeZone)
        } catch {
            throw APIProblem(error)
        }
        guard Approval.shortens(definition.retention, comparedTo: current.definition.retention), try await routes.approvals.isRequired()
        else { return nil }
        do {
            _ = try CatalogDecider.update(id: entry.id, basedOn: expected, in: state) { (job: inout JobDefinition) in job = definition }
        } catch {
            throw APIProblem(error)
        }
        let metadata = APIRequest.metadata(context)
        let action = Approval.Action(
            kind: .shortenRetention, objectKind: .job, objectID: entry.id, objectName: entry.definition.name, version: expected,
            document: JobDocument.export(JobSettings(definition, in: state)), definition: CatalogCoding.json(definition),
            retentionFrom: current.definition.retention.description, retentionTo: definition.retention.description)
        do {
            return try ApprovalRoutes.pending(
                try await routes.approvals.request(action, requestedBy: metadata.actor ?? "api", metadata: metadata))
        } catch let error as CatalogError {
            throw ApprovalRoutes.problem(error)
        }
    }

    /// A stale `If-Match`: where the job is now and which fields changed since the client read it.
    static func stale(_ name: String, _ current: CatalogEntry<JobDefinition>, expected: Int64) -> String {
        let since = current.fieldsChanged(since: expected)
        return "job '\(name)' is at version \(current.version), not \(expected) (If-Match)"
            + (since.isEmpty ? "" : ", changed since in \(since.joined(separator: ", "))")
            + ": GET /api/v1/jobs/\(percentEncoded(name)) for its definition and ETag, and send the change again"
    }

    /// The body as one job document; anything else is 400 saying where it went wrong.
    func document(_ request: inout Request, context: APIContext) async throws -> JobSettings {
        let text = try await DefinitionBody.text(&request, context: context)
        let documents: [JobSettings]
        do {
            documents = try JobDocument.parse(text, file: "the body")
        } catch {
            throw APIProblem(error)
        }
        guard documents.count == 1 else {
            throw APIProblem.badRequest(
                "the body holds \(documents.count) jobs: send one per request (a file of several is for 'tidemark job apply')")
        }
        return documents[0]
    }
}
