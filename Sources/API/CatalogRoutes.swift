import Catalog
import CatalogStore
import EventStore
import Foundation
import Hummingbird
import Postgres

/// The catalog's objects under `/api/v1`: for every kind a keyset-paged list, one object with
/// its version as `ETag`, and its removal (`DELETE`, `If-Match` optional) through the same
/// decider as `tidemark <kind> remove`. Rows are the kinds' `reporting` views.
struct CatalogRoutes {
    let store: EventStore
    let catalog: CatalogStore
    var approvals: ApprovalStore { ApprovalStore(catalog: catalog) }

    /// Kinds whose removal waits for a second administrator under two-person approval: what
    /// holds the backups and what makes them.
    static let guardedRemovals: Set<ObjectKind> = [.job, .repository]

    /// One kind as the API names it: its path, its view, the view's name column and its id column.
    struct Kind: Sendable {
        let path: String
        let view: String
        let key: String
        let id: String
        let kind: ObjectKind
    }

    static let servers = Kind(path: "servers", view: "reporting.managed_servers", key: "server_name", id: "server_id", kind: .server)
    static let repositories = Kind(
        path: "repositories", view: "reporting.repositories", key: "repository_name", id: "repository_id", kind: .repository)
    static let proxies = Kind(path: "proxies", view: "reporting.proxies", key: "proxy_name", id: "proxy_id", kind: .proxy)
    static let throttlingRules = Kind(
        path: "throttling-rules", view: "reporting.throttling_rules", key: "rule_name", id: "rule_id", kind: .throttle)
    static let jobs = Kind(path: "jobs", view: "reporting.jobs", key: "job_name", id: "job_id", kind: .job)

    func add(to group: RouterGroup<APIContext>) {
        add(ManagedServer.self, Self.servers, to: group)
        add(RepositoryDefinition.self, Self.repositories, to: group)
        add(ProxyDefinition.self, Self.proxies, to: group)
        add(ThrottlingRule.self, Self.throttlingRules, to: group)
    }

    /// The list, show and remove routes of one kind (jobs add their own start, stop, create
    /// and replace in ``JobRoutes``). `document`, when given, answers a show whose client
    /// asks for `application/yaml`.
    func add<Definition: CatalogDefinition>(
        _ type: Definition.Type, _ kind: Kind, to group: RouterGroup<APIContext>,
        document: (@Sendable (String) async throws -> Response)? = nil
    ) {
        group.get(RouterPath(kind.path)) { request, context in
            _ = try context.require(.readCatalog)
            return try await Self.page(request, store: store, path: kind.path, view: kind.view, key: kind.key)
        }
        group.get(RouterPath("\(kind.path)/:name")) { request, context in
            _ = try context.require(.readCatalog)
            let name = try APIRequest.name(context)
            if let document, request.headers[.accept]?.contains("yaml") == true { return try await document(name) }
            return try await show(type, name, kind)
        }
        group.delete(RouterPath("\(kind.path)/:name")) { request, context in
            _ = try context.require(.editCatalog)
            return try await remove(type, try APIRequest.name(context), kind, request: request, context: context)
        }
    }

    /// `limit` rows of `view` ordered by `key`, after `after`; `next` links the following page.
    static func page(_ request: Request, store: EventStore, path: String, view: String, key: String) async throws -> Response {
        let limit = try APIRequest.limit(request)
        let after = try APIRequest.query(request, "after") ?? ""
        let result = try await store.pool.query(ListQueries.pageStatement(view: view, key: key), [after, limit])
        let items: String = try result.decode(0, 0)
        let count: Int64 = try result.decode(0, 1)
        let last = try result.decodeIfPresent(0, 2, as: String.self)
        let next = count == Int64(limit) ? last.map { "\"/api/v1/\(path)?limit=\(limit)&after=\(percentEncoded($0))\"" } ?? "null" : "null"
        return JSONResponse.text(#"{"items":\#(items),"next":\#(next)}"#)
    }

    /// One object's row, its version as the `ETag` a change sends back in `If-Match`.
    ///
    /// The row comes from the kind's `reporting` view, which the projector fills after the log:
    /// a client that has just changed the object would otherwise read the version before its
    /// own change and have its next `PUT` refused. So the log decides whether the object
    /// exists and at which version, and the answer waits (up to ``projectionWait``) for the
    /// view to reach that version; the body and its `ETag` always come from the same row, the
    /// row of the object the log names, found by its id (a removed object of the same name
    /// that the view still shows is another object).
    func show<Definition: CatalogDefinition>(_ type: Definition.Type, _ name: String, _ kind: Kind) async throws -> Response {
        let state = try await catalog.load()
        guard let id = state.id(of: type, named: name), let entry = state.entry(type, id: id) else { throw try await unknown(name, kind) }
        let deadline = ContinuousClock.now + Self.projectionWait
        while true {
            let result = try await store.pool.query(
                "SELECT row_to_json(v)::text, v.definition_version FROM \(kind.view) v WHERE v.\(kind.id)::text = $1", [id])
            let version = result.rowCount == 1 ? try result.decode(0, 1, as: Int64.self) : nil
            if let version, version >= entry.version {
                return JSONResponse.text(try result.decode(0, 0), headers: [.eTag: DefinitionBody.entityTag(version)])
            }
            guard ContinuousClock.now < deadline else {
                var problem = APIProblem(
                    .serviceUnavailable,
                    "the \(kind.kind.displayName) '\(name)' is in the log but not yet in the catalog's views (the projector is catching up, see GET /api/v1/projections): try again in a moment"
                )
                problem.headers[.retryAfter] = "1"
                throw problem
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// How long a show waits for the projector to reach the log's version of the object.
    static let projectionWait: Duration = .seconds(2)

    /// Removes an object nothing uses any more; `If-Match` refuses it (412) if the object
    /// changed since the client read it. `?dry_run=true` only says what would be removed.
    func remove<Definition: CatalogDefinition>(
        _ type: Definition.Type, _ name: String, _ kind: Kind, request: Request, context: APIContext
    ) async throws -> Response {
        let expected = try DefinitionBody.expectedVersion(request)
        let dryRun = try DefinitionBody.dryRun(request)
        let state = try await catalog.load()
        guard let id = state.id(of: type, named: name), let entry = state.entry(type, id: id) else { throw try await unknown(name, kind) }
        if !dryRun, Self.guardedRemovals.contains(kind.kind), try await approvals.isRequired() {
            // Refused now what would be refused then (stale, still in use), so a request is
            // only made for a removal that can happen.
            if let expected, expected != entry.version {
                throw APIProblem(
                    .preconditionFailed,
                    "the \(kind.kind.displayName) '\(name)' is at version \(entry.version), not \(expected): GET /api/v1/\(kind.path)/\(percentEncoded(name)) and look at it again before removing it"
                )
            }
            do { _ = try CatalogDecider.remove(type, id: id, in: state) } catch { throw APIProblem(error) }
            let metadata = APIRequest.metadata(context)
            let action = Approval.Action(
                kind: .remove, objectKind: kind.kind, objectID: id, objectName: entry.definition.name, version: entry.version)
            do {
                return try ApprovalRoutes.pending(
                    try await approvals.request(action, requestedBy: metadata.actor ?? "api", metadata: metadata))
            } catch let error as CatalogError {
                throw ApprovalRoutes.problem(error)
            }
        }
        let changes = try await decide(dryRun: dryRun, context: context) { state throws(CatalogError) in
            let id = try state.require(type, named: name)
            if let expected, let current = state.entry(type, id: id)?.version, expected != current {
                throw CatalogError(
                    .staleVersion,
                    "the \(kind.kind.displayName) '\(name)' is at version \(current), not \(expected): GET /api/v1/\(kind.path)/\(percentEncoded(name)) and look at it again before removing it"
                )
            }
            return try CatalogDecider.remove(type, id: id, in: state)
        }
        return try ChangeReply.response(changes, kind: kind, name: name, dryRun: dryRun)
    }

    /// Decides on the log's catalog: appended under the catalog lock with the caller as actor,
    /// or, for a dry run, decided on the current state and appended nowhere.
    func decide(
        dryRun: Bool, context: APIContext, _ decide: @escaping @Sendable (CatalogState) throws(CatalogError) -> [CatalogChange]
    ) async throws -> [CatalogChange] {
        do {
            if dryRun { return try decide(try await catalog.load()) }
            return try await catalog.execute(metadata: APIRequest.metadata(context), decide)
        } catch let error as CatalogError where error.code == .noChange {
            // Already as asked: a repeated PUT changes nothing and is not an error.
            return []
        } catch let error as CatalogError {
            throw APIProblem(error)
        } catch let error as EventStoreError where error.code == .invalidInput {
            // What the decider let through and the log refused (a value jsonb cannot hold).
            throw APIProblem.badRequest(error.message)
        }
    }

    /// 404 naming the objects of the kind there are.
    func unknown(_ name: String, _ kind: Kind) async throws -> APIProblem {
        let rows = try await store.pool.query("SELECT \(kind.key) FROM \(kind.view) ORDER BY \(kind.key) LIMIT 20")
        let names = try (0..<rows.rowCount).map { try rows.decode($0, 0, as: String.self) }
        return .notFound(UnknownName.message(kind.kind.displayName, name, known: names, listCommand: "GET /api/v1/\(kind.path)"))
    }
}

/// What a change through the API answers: the object, its version after the change (also as
/// `ETag`), and each event appended, or that would be with `dry_run`.
enum ChangeReply {
    static func response(
        _ changes: [CatalogChange], kind: CatalogRoutes.Kind, name: String, dryRun: Bool, status: HTTPResponse.Status = .ok,
        id: UUIDString? = nil, unchangedVersion: Int64? = nil
    ) throws -> Response {
        let version = changes.last.map { $0.expectedVersion + 1 } ?? unchangedVersion
        var object: [String: Any] = [
            kind.key: name, "dry_run": dryRun,
            "changes": changes.map { ["event_type": $0.eventType, "changed_fields": $0.changedFields] },
        ]
        if let identifier = changes.first?.id ?? id { object["id"] = identifier }
        if let version { object["definition_version"] = version }
        var headers: HTTPFields = [:]
        let removed = changes.last?.eventType.hasSuffix("Removed") == true
        if let version, !dryRun, !removed { headers[.eTag] = DefinitionBody.entityTag(version) }
        if status == .created { headers[.location] = "/api/v1/\(kind.path)/\(percentEncoded(name))" }
        return try JSONResponse.object(object, status: status, headers: headers)
    }
}
