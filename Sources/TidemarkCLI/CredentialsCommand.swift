import ArgumentParser
import CommandLineSupport
import Foundation
import JobManager
import Secrets

/// `tidemark credentials add|list|remove`: the vCenter passwords the service keeps on this
/// host, sealed under a key only its account can read, named in the catalog as
/// `credential:NAME` (`tidemark server add vc1 --vcenter URL --credential NAME`). The password
/// is read from the terminal without echo, or from standard input; it never appears on a
/// command line, in the catalog or in the log.
struct CredentialsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "credentials",
        abstract: "Keep vCenter passwords on this host, sealed, out of the catalog and the log.",
        subcommands: [Add.self, List.self, Remove.self])

    static func store(_ global: GlobalOptions) throws -> CredentialStore {
        try global.secretsLocation().credentials
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store a credential (or replace it): the password from the terminal without echo, or one line of standard input.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Its name (letters, digits, '.', '_', '-').") var name: String
        @Option(help: "The user it logs in as (a server's --user, if given, wins).") var user: String?

        func validate() throws {
            do { try CredentialStore.checkName(name) } catch { throw ValidationError(error.message) }
        }

        func run() throws {
            let secret: String
            if isatty(STDIN_FILENO) != 0 {
                guard let typed = getpass("password for credential '\(name)': ") else { throw CommandFailure("no password was typed") }
                secret = String(cString: typed)
            } else {
                var text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
                if text.hasSuffix("\r\n") { text.removeLast(2) } else if text.hasSuffix("\n") { text.removeLast() }
                secret = text
            }
            guard !secret.isEmpty else { throw CommandFailure("the password is empty: type it, or pipe it in on standard input") }
            let store = try CredentialsCommand.store(global)
            do {
                try store.add(name, .init(user: user, secret: secret))
            } catch {
                throw CommandFailure(error.message)
            }
            print("stored credential '\(name)'\(user.map { " (user \($0))" } ?? ""): use it with --credential \(name)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The credentials stored on this host, with their users (never the passwords).")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON for scripts.") var json = false

        func run() throws {
            let store = try CredentialsCommand.store(global)
            var rows: [(String, String?)] = []
            do {
                for name in try store.names() { rows.append((name, try store.read(name).user)) }
            } catch {
                throw CommandFailure(error.message)
            }
            if json {
                let objects = rows.map { ["name": $0.0, "user": $0.1 as Any] }
                let data = try JSONSerialization.data(withJSONObject: objects, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            guard !rows.isEmpty else {
                print("no credentials; add one with 'tidemark credentials add NAME --user USER'")
                return
            }
            print(TextTable.render([["NAME", "USER"]] + rows.map { [$0.0, $0.1 ?? "-"] }), terminator: "")
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a credential (servers that name it can no longer connect).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Its name.") var name: String

        func run() throws {
            let store = try CredentialsCommand.store(global)
            let removed: Bool
            do { removed = try store.remove(name) } catch { throw CommandFailure(error.message) }
            guard removed else { throw CommandFailure("no credential is named '\(name)': see 'tidemark credentials list'") }
            print("removed credential '\(name)'")
        }
    }
}
