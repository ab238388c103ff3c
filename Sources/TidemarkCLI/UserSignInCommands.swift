import ArgumentParser
import CommandLineSupport
import Foundation
import Identity
import Secrets

/// `tidemark user password NAME`: lets a user sign in to the API (and the console) with a
/// password. Read from the terminal without echo, or one line of standard input; only its
/// bcrypt hash is recorded.
struct UserPassword: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "password",
        abstract: "Set a user's password for signing in (at least \(Password.minimumLength) characters; only its bcrypt hash is kept).")
    @OptionGroup var options: CatalogOptions
    @Argument(help: "The user's name.") var name: String

    func run() async throws {
        let password: String
        if isatty(STDIN_FILENO) != 0 {
            guard let typed = getpass("password for '\(name)': ") else { throw CommandFailure("no password was typed") }
            password = String(cString: typed)
        } else {
            var text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            if text.hasSuffix("\r\n") { text.removeLast(2) } else if text.hasSuffix("\n") { text.removeLast() }
            password = text
        }
        try Password.check(password)
        let hash = Password.hash(password)
        _ = try await options.withIdentity { store in
            try await store.execute(metadata: options.metadata) { [name] state throws(IdentityError) in
                try IdentityDecider.setPassword(hash: hash, for: name, in: state)
            }
        }
        print("'\(name)' may sign in with this password (POST /api/v1/sign-in)")
    }
}

/// `tidemark user second-factor NAME on|off`: asks for a TOTP code after the password. The
/// secret is made here, sealed in this host's credential store (where `tidemark server` reads
/// it), and shown once as an `otpauth://` URL for an authenticator app; the log records only
/// that a second factor is asked for.
struct UserSecondFactor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "second-factor", abstract: "Ask a user for a TOTP code after the password (on), or stop asking (off).")
    @OptionGroup var options: CatalogOptions
    @Argument(help: "The user's name.") var name: String
    @Argument(help: "on or off.") var state: Switch

    enum Switch: String, ExpressibleByArgument, CaseIterable {
        case on, off
    }

    func run() async throws {
        let turnOn = state == .on
        let credentials = try options.global.secretsLocation().credentials
        let secret = TOTP.generate()
        let changes = try await options.withIdentity { store -> [IdentityChange] in
            let current = try await store.load().state
            guard let user = current.user(named: name) else {
                throw IdentityError(.notFound, "no user is named '\(name)': see 'tidemark user list'")
            }
            let previous = user.secondFactor
            // Each enrolment seals its secret under a name of its own before its event says so,
            // and the old secret goes only after the event: a failure between leaves the log
            // naming a secret that exists.
            let credential =
                turnOn ? IdentityDecider.secondFactorCredential(of: user) + "." + UUID().uuidString.prefix(8).lowercased() : nil
            if let credential { try credentials.add(credential, CredentialStore.Credential(user: user.name, secret: secret.base32)) }
            let changes: [IdentityChange]
            do {
                changes = try await store.execute(metadata: options.metadata) { [name] state throws(IdentityError) in
                    try IdentityDecider.setSecondFactor(credential: credential, for: name, in: state)
                }
            } catch {
                if let credential { _ = try? credentials.remove(credential) }
                throw error
            }
            if let previous, previous != credential, !(try credentials.remove(previous)) {
                FileHandle.standardError.write(
                    Data("note: the previous secret '\(previous)' was not in this host's credential store\n".utf8))
            }
            return changes
        }
        if turnOn {
            print("'\(name)' is asked for a code after the password from now on; add this to an authenticator app (shown once):")
            print(secret.provisioningURL(user: name))
        } else {
            print(changes.isEmpty ? "'\(name)' had no second factor: nothing changed" : "'\(name)' is no longer asked for a code")
        }
    }
}
