import BlockingIO
import Catalog
import Foundation
import Hummingbird
import JobManager

/// A catalog kind's settings as a JSON body, read as `tidemark <kind> add|update` reads its
/// options: every key optional, each one given replacing that setting (lists replace lists).
/// The definition's own checks run in ``CatalogDecider``, under the catalog lock, as for the
/// command line.
protocol DefinitionFields: Sendable {
    associatedtype Definition: CatalogDefinition
    static var kind: CatalogRoutes.Kind { get }
    /// The keys read: all but `name`.
    init(_ fields: inout JSONFields) throws
    /// A new object's defaults, before the body's settings.
    static func blank(named name: String) -> Definition
    /// What a new object cannot do without, as a message naming the key (nil: nothing).
    var missingForAdd: String? { get }
    func apply(to definition: inout Definition, in state: CatalogState) throws(CatalogError)
    /// Checks on the server's host before anything is decided (a folder that is a file, a
    /// secret the server cannot read); off the cooperative pool.
    func checkOnHost(_ host: HostChecks) throws
}

extension DefinitionFields {
    func checkOnHost(_ host: HostChecks) throws {}
}

/// What the host checks may read: the server's secrets (environment, files, credentials).
struct HostChecks: Sendable {
    let secrets: SecretsLocation?
}

/// `POST /api/v1/{kind}` adds one (201); `PATCH /api/v1/{kind}/{name}` changes the settings
/// given, with `If-Match` (428 without, 412 when the object moved on), a `name` renaming it.
/// Both take `?dry_run=true`.
struct DefinitionFieldRoutes<Fields: DefinitionFields>: Sendable {
    let routes: CatalogRoutes
    let host: HostChecks

    func add(to group: RouterGroup<APIContext>) {
        group.post(RouterPath(Fields.kind.path), use: create)
        group.patch(RouterPath("\(Fields.kind.path)/:name"), use: change)
    }

    @Sendable func create(_ request: Request, context: APIContext) async throws -> Response {
        _ = try context.require(.editCatalog)
        var request = request
        let dryRun = try DefinitionBody.dryRun(request)
        var body = try await DefinitionBody.json(&request, context: context)
        let name = try body.requiredString("name", "a name for the new \(Fields.Definition.kind.displayName)")
        let fields = try Fields(&body)
        try body.finish()
        if let missing = fields.missingForAdd { throw APIProblem.badRequest(missing) }
        try await check(fields)
        let id = UUID().uuidString.lowercased()
        let changes = try await routes.decide(dryRun: dryRun, context: context) { state throws(CatalogError) in
            var definition = Fields.blank(named: name)
            try fields.apply(to: &definition, in: state)
            return try CatalogDecider.add(definition, id: id, in: state)
        }
        return try ChangeReply.response(changes, kind: Fields.kind, name: name, dryRun: dryRun, status: dryRun ? .ok : .created)
    }

    @Sendable func change(_ request: Request, context: APIContext) async throws -> Response {
        _ = try context.require(.editCatalog)
        var request = request
        let name = try APIRequest.name(context)
        let dryRun = try DefinitionBody.dryRun(request)
        let path = "/api/v1/\(Fields.kind.path)/\(percentEncoded(name))"
        guard let expected = try DefinitionBody.expectedVersion(request) else {
            throw APIProblem(
                .preconditionRequired,
                "send If-Match with the \(Fields.Definition.kind.displayName)'s ETag (GET \(path)), so a change made meanwhile is not overwritten"
            )
        }
        var body = try await DefinitionBody.json(&request, context: context)
        let newName = try body.string("name")
        let fields = try Fields(&body)
        try body.finish()
        try await check(fields)
        let state = try await routes.catalog.load()
        guard let id = state.id(of: Fields.Definition.self, named: name) else { throw try await routes.unknown(name, Fields.kind) }
        let changes = try await routes.decide(dryRun: dryRun, context: context) { state throws(CatalogError) in
            // Before the decider, which answers "no change" without looking at the version.
            if let current = state.entry(Fields.Definition.self, id: id), current.version != expected {
                throw CatalogError(
                    .staleVersion,
                    "\(Fields.Definition.kind.displayName) '\(name)' is at version \(current.version), not \(expected) (If-Match): GET \(path) and send the change again"
                )
            }
            return try CatalogDecider.update(id: id, basedOn: expected, in: state) {
                (definition: inout Fields.Definition) throws(CatalogError) in
                try fields.apply(to: &definition, in: state)
                if let newName { definition.name = newName }
            }
        }
        return try ChangeReply.response(
            changes, kind: Fields.kind, name: newName ?? name, dryRun: dryRun, id: id, unchangedVersion: expected)
    }

    func check(_ fields: Fields) async throws {
        let host = self.host
        try await BlockingIOPool.shared.run { () throws in try fields.checkOnHost(host) }
    }
}
