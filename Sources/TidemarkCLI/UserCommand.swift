import ArgumentParser
import CommandLineSupport
import Foundation
import Identity

/// `tidemark user add|grant|remove|list`: who may use the API and with which role. Each
/// change is an event under the catalog's lock, with the OS account as its actor.
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Add, change and list the users of the API (roles: \(Role.allCases.map(\.rawValue).joined(separator: ", "))).",
        subcommands: [UserAdd.self, UserGrant.self, UserRemove.self, UserList.self, UserPassword.self, UserSecondFactor.self]
    )
}

struct UserAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Add a user with a role.")
    @OptionGroup var options: CatalogOptions
    @Argument(help: "The user's name: a-z, 0-9, '.', '_', '@', '-'.") var name: String
    @Option(help: "administrator, operator, restore-operator, auditor or viewer.") var role: String
    @OptionGroup var limit: RestoreScopeOptions

    func validate() throws {
        _ = try Role.named(role)
        try IdentityDecider.validateName(name)
    }

    func run() async throws {
        let role = try Role.named(role)
        let id = UUID().uuidString.lowercased()
        let scope = try await options.withCatalog { catalog in
            let scope = try await limit.scope(catalog)
            _ = try await IdentityStore(events: catalog.events).execute(metadata: options.metadata) { [name] state throws(IdentityError) in
                try IdentityDecider.addUser(name, role: role, scope: scope, id: id, in: state)
            }
            return scope
        }
        let limited = scope.map { " limited to \($0.description)" } ?? ""
        print("user '\(name)' added as \(role.rawValue)\(limited); give it a token with 'tidemark token create --user \(name)'")
    }
}

struct UserGrant: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "grant", abstract: "Give a user another role.")
    @OptionGroup var options: CatalogOptions
    @Argument(help: "The user's name.") var name: String
    @Option(help: "administrator, operator, restore-operator, auditor or viewer.") var role: String
    @OptionGroup var limit: RestoreScopeOptions

    func validate() throws { _ = try Role.named(role) }

    func run() async throws {
        let role = try Role.named(role)
        let (changes, scope) = try await options.withCatalog { catalog in
            let scope = try await limit.scope(catalog)
            let changes = try await IdentityStore(events: catalog.events).execute(metadata: options.metadata) {
                [name] state throws(IdentityError) in
                try IdentityDecider.grant(role, scope: scope, to: name, in: state)
            }
            return (changes, scope)
        }
        let limited = scope.map { " limited to \($0.description)" } ?? ""
        print(
            changes.isEmpty
                ? "'\(name)' is \(role.rawValue)\(limited) already: nothing changed" : "'\(name)' is now \(role.rawValue)\(limited)")
    }
}

struct UserRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove", abstract: "Remove a user; its tokens stop working at once.")
    @OptionGroup var options: CatalogOptions
    @Argument(help: "The user's name.") var name: String

    func run() async throws {
        _ = try await options.withIdentity { store in
            try await store.execute(metadata: options.metadata) { [name] state throws(IdentityError) in
                try IdentityDecider.removeUser(name, in: state)
            }
        }
        print("user '\(name)' removed; its tokens no longer work")
    }
}

struct UserList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the users and their roles.")
    @OptionGroup var options: CatalogOptions
    @Flag(help: "Print JSON: the rows of reporting.users.") var json = false

    func run() async throws {
        try await options.withIdentity { store in
            if json {
                let result = try await store.events.pool.query(
                    "SELECT coalesce(json_agg(row_to_json(u) ORDER BY u.name), '[]')::text FROM reporting.users u WHERE removed_at IS NULL")
                print(try result.decode(0, 0, as: String.self))
                return
            }
            let state = try await store.load().state
            let tokens = Dictionary(grouping: state.tokens.values.filter { !$0.revoked && $0.expiresAt > Date() }, by: \.userID)
            let rows = state.users.values.sorted { $0.name < $1.name }.map { user in
                [user.name, user.role.rawValue + (user.scope.map { " (\($0.description))" } ?? ""), "\(tokens[user.id]?.count ?? 0)"]
            }
            if rows.isEmpty {
                print("no users: add one with 'tidemark user add NAME --role administrator'")
                return
            }
            print(TextTable.render([["NAME", "ROLE", "TOKENS"]] + rows, rightAligned: [2]), terminator: "")
        }
    }
}

extension CatalogOptions {
    /// Opens the identity store, runs `body`, and closes the connections whatever happens.
    func withIdentity<T>(_ body: (IdentityStore) async throws -> T) async throws -> T {
        try await withCatalog { catalog in
            try await body(IdentityStore(events: catalog.events))
        }
    }
}
