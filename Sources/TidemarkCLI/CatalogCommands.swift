import ArgumentParser
import Catalog
import CatalogStore
import Foundation

/// `list`, `show` and `remove`, the same for every kind of catalog object.
struct ListObjects<Definition: CatalogDefinition>: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "list",
            abstract: "List the \(Definition.kind.pluralName): an aligned table, or JSON with --json; --as-of shows the past.")
    }

    @OptionGroup var options: CatalogOptions
    @OptionGroup var view: ViewOptions

    func run() async throws {
        let moment = try view.moment()
        let views = try await options.withCatalog { catalog in
            if let moment { return CatalogView.views(Definition.self, in: try await catalog.load(asOf: moment)) }
            return try await CatalogView.views(Definition.self, from: catalog)
        }
        CatalogView.printList(views, kind: Definition.kind, json: view.json)
    }
}

struct ShowObject<Definition: CatalogDefinition>: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "show", abstract: "Show one \(Definition.kind.displayName) with every setting, its version and its last change.")
    }

    @OptionGroup var options: CatalogOptions
    @OptionGroup var view: ViewOptions
    @Argument(help: "Its name.") var name: String

    func run() async throws {
        let moment = try view.moment()
        let kind = Definition.kind
        let views = try await options.withCatalog { catalog -> [ObjectView] in
            moment == nil
                ? try await CatalogView.views(Definition.self, from: catalog)
                : CatalogView.views(Definition.self, in: try await catalog.load(asOf: moment))
        }
        guard let found = views.first(where: { ObjectName.key($0.name) == ObjectName.key(name) }) else {
            throw CatalogError.unknown(kind, named: name, known: views.map(\.name), when: view.asOf.map { "at \($0)" })
        }
        CatalogView.printDetail(found, json: view.json)
    }
}

struct RemoveObject<Definition: CatalogDefinition>: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "remove",
            abstract: "Remove a \(Definition.kind.displayName) that nothing uses any more (the removal is an event; its history stays).")
    }

    @OptionGroup var options: CatalogOptions
    @OptionGroup var version: VersionOption
    @Argument(help: "Its name.") var name: String

    func run() async throws {
        let name = self.name, expected = version.expectedVersion
        let changes = try await options.withCatalog(appending: true) { catalog in
            try await catalog.execute(metadata: options.metadata) { state throws(CatalogError) in
                let id = try state.require(Definition.self, named: name)
                if let expected, let current = state.entry(Definition.self, id: id)?.version, expected != current {
                    throw CatalogError(
                        .staleVersion,
                        "the \(Definition.kind.displayName) '\(name)' is at version \(current), not \(expected): look at it again before removing it"
                    )
                }
                return try CatalogDecider.remove(Definition.self, id: id, in: state)
            }
        }
        CatalogCommandOutput.report(changes, verb: "removed", name: name)
    }
}

/// Runs `add` and `update` for any kind.
enum CatalogCommandRunner {
    static func add<Definition: CatalogDefinition>(
        _ options: CatalogOptions, make: @escaping @Sendable (CatalogState) throws(CatalogError) -> Definition
    ) async throws {
        let id = UUID().uuidString.lowercased()
        let changes = try await options.withCatalog(appending: true) { catalog in
            try await catalog.execute(metadata: options.metadata) { state throws(CatalogError) in
                try CatalogDecider.add(try make(state), id: id, in: state)
            }
        }
        let name = changes.first.flatMap { Self.name(in: $0) } ?? id
        CatalogCommandOutput.report(changes, verb: "added", name: name)
    }

    static func update<Definition: CatalogDefinition>(
        _ type: Definition.Type, named name: String, basedOn: Int64?, _ options: CatalogOptions,
        change: @escaping @Sendable (inout Definition, CatalogState) throws(CatalogError) -> Void
    ) async throws {
        let changes = try await options.withCatalog(appending: true) { catalog in
            try await catalog.execute(metadata: options.metadata) { state throws(CatalogError) in
                let id = try state.require(Definition.self, named: name)
                return try CatalogDecider.update(id: id, basedOn: basedOn, in: state) {
                    (definition: inout Definition) throws(CatalogError) in
                    try change(&definition, state)
                }
            }
        }
        CatalogCommandOutput.report(changes, verb: "updated", name: name)
    }

    static func name(in change: CatalogChange) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(change.data.utf8)) as? [String: Any] else { return nil }
        return (object["definition"] as? [String: Any])?["name"] as? String ?? object["to"] as? String ?? object["name"] as? String
    }
}

enum CatalogCommandOutput {
    /// One line per change: what happened, to which fields, and the new version.
    static func report(_ changes: [CatalogChange], verb: String, name: String) {
        guard let first = changes.first else { return }
        let version = first.expectedVersion + Int64(changes.filter { $0.stream == first.stream }.count)
        let fields = changes.flatMap(\.changedFields)
        let detail = verb == "updated" && !fields.isEmpty ? " (\(fields.joined(separator: ", ")))" : ""
        print(
            "\(verb) \(first.kind.displayName) '\(name)'\(detail): version \(version), events \(changes.map(\.eventType).joined(separator: ", "))"
        )
    }
}
