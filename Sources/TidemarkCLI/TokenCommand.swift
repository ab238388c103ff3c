import ArgumentParser
import CommandLineSupport
import Foundation
import Identity

/// `tidemark token create|revoke|list`: API tokens. A token is printed once, when created;
/// the log keeps its SHA-256 and its visible prefix only.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Create, revoke and list API tokens (sent as 'Authorization: Bearer TOKEN').",
        subcommands: [TokenCreate.self, TokenRevoke.self, TokenList.self]
    )
}

struct TokenCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create a token for a user and print it (once: it is not stored).")
    @OptionGroup var options: CatalogOptions
    @Option(help: "Whose token it is.") var user: String
    @Option(help: "How long it lives: 30m, 12h, 90d (at most 3 years).") var expires = "90d"
    @Option(help: "What it is for, shown in lists.") var label: String?

    func validate() throws { _ = try APIToken.lifetime(expires) }

    func run() async throws {
        let lifetime = try APIToken.lifetime(expires)
        let token = APIToken.generate()
        let id = UUID().uuidString.lowercased()
        let now = Date()
        _ = try await options.withIdentity { store in
            try await store.execute(metadata: options.metadata) { [user, label] state throws(IdentityError) in
                try IdentityDecider.issueToken(token, id: id, for: user, lifetime: lifetime, label: label, now: now, in: state)
            }
        }
        let expiry = ISO8601DateFormatter().string(from: now.addingTimeInterval(lifetime))
        // The token alone on standard output, so `TOKEN=$(tidemark token create ...)` works;
        // what it is goes to standard error.
        FileHandle.standardError.write(Data("token \(token.prefix) for '\(user)', valid until \(expiry); it is shown only now:\n".utf8))
        print(token.text)
    }
}

struct TokenRevoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke a token: it stops working at once.")
    @OptionGroup var options: CatalogOptions
    @Argument(help: "The token's prefix (tm_xxxxxxxx), as 'token list' shows it.") var prefix: String

    func run() async throws {
        let changes = try await options.withIdentity { store in
            try await store.execute(metadata: options.metadata) { [prefix] state throws(IdentityError) in
                try IdentityDecider.revokeToken(prefix: prefix, in: state)
            }
        }
        print(changes.isEmpty ? "token \(prefix) was revoked already" : "token \(prefix) revoked")
    }
}

struct TokenList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the tokens, without their secrets.")
    @OptionGroup var options: CatalogOptions
    @Flag(help: "Print JSON: the rows of reporting.api_tokens.") var json = false

    func run() async throws {
        try await options.withIdentity { store in
            if json {
                let result = try await store.events.pool.query(
                    "SELECT coalesce(json_agg(row_to_json(t) ORDER BY t.issued_at), '[]')::text FROM reporting.api_tokens t")
                print(try result.decode(0, 0, as: String.self))
                return
            }
            let state = try await store.load().state
            let now = Date()
            let format = ISO8601DateFormatter()
            let rows = state.tokens.values.sorted { $0.issuedAt < $1.issuedAt }.map { token in
                let status = token.revoked ? "revoked" : token.expiresAt <= now ? "expired" : "valid"
                return [token.prefix, token.userName, status, format.string(from: token.expiresAt), token.label ?? ""]
            }
            if rows.isEmpty {
                print("no tokens: create one with 'tidemark token create --user NAME'")
                return
            }
            print(TextTable.render([["PREFIX", "USER", "STATUS", "EXPIRES", "LABEL"]] + rows), terminator: "")
        }
    }
}
