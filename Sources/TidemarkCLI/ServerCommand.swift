import ArgumentParser
import Catalog
import CommandLineSupport
import Foundation
import JobManager

/// `tidemark server`: runs the Tidemark server; `tidemark server add|update|...` manages the
/// vCenters and labs Tidemark backs VMs up from.
struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Run the Tidemark server (the default), or register the vCenters (or labs) whose VMs it backs up.",
        subcommands: [
            ServerRun.self, AddObject<ServerOptions>.self, UpdateObject<ServerOptions>.self, RemoveObject<ManagedServer>.self,
            ListObjects<ManagedServer>.self, ShowObject<ManagedServer>.self, ServerCheckCommand.self, ServerInventoryCommand.self,
        ],
        defaultSubcommand: ServerRun.self)
}

struct ServerOptions: DefaultedDefinitionOptions {
    @Option(help: ArgumentHelp("A vCenter's address: https://HOST[:PORT].", valueName: "url")) var vcenter: String?
    @Option(help: ArgumentHelp("A lab: the absolute path of its folder.", valueName: "folder")) var lab: String?
    @Option(help: "The vCenter user.") var user: String?
    @Option(
        name: .customLong("password-env"),
        help: ArgumentHelp("The environment variable holding the password (the password never enters the catalog).", valueName: "var"))
    var passwordEnvironment: String?
    @Option(
        name: .customLong("password-file"),
        help: ArgumentHelp(
            "A file holding the password, in the secrets folder (<data folder>/secrets), owned by the service's account, mode 600.",
            valueName: "path"))
    var passwordFile: String?
    @Option(
        help: ArgumentHelp(
            "A credential of 'tidemark credentials add' (user and password, sealed on this host; nothing of it enters the catalog).",
            valueName: "name"))
    var credential: String?
    @Option(help: ArgumentHelp("Trust a certificate no CA vouches for by its SHA-256 thumbprint.", valueName: "hex")) var thumbprint:
        String?

    static func blank(named name: String) -> ManagedServer { ManagedServer(name: name, platform: .vcenter) }

    var missingForAdd: String? {
        vcenter == nil && lab == nil ? "say what it is: --vcenter https://HOST or --lab /path/to/lab" : nil
    }

    /// The reference must name something the service can use, and never the secret itself:
    /// `--password-env Hunter2Secret` used to store the password in the permanent log.
    func checkOnHost(_ global: GlobalOptions) throws {
        if let passwordEnvironment, ProcessInfo.processInfo.environment[passwordEnvironment] == nil {
            throw CommandFailure(
                "the environment variable \(EscapedText.escaped(passwordEnvironment)) is not set here: --password-env takes the NAME of a variable that holds the password (the name is kept in the log for ever; never give the password itself)"
            )
        }
        let secrets = try global.secretsLocation()
        do {
            if let passwordFile { _ = try secrets.files.read(passwordFile) }
            if let credential { _ = try secrets.credentials.read(credential) }
        } catch {
            throw CommandFailure(error.message)
        }
    }

    func validate() throws {
        if vcenter != nil && lab != nil { throw ValidationError("give --vcenter or --lab, not both") }
        if [passwordEnvironment, passwordFile, credential].compactMap({ $0 }).count > 1 {
            throw ValidationError("give one of --credential, --password-env and --password-file")
        }
    }

    func apply(to server: inout ManagedServer, in state: CatalogState) throws(CatalogError) {
        var changes = ServerChanges()
        changes.vcenter = vcenter
        changes.lab = lab
        changes.user = user
        if let passwordEnvironment { changes.password = try SecretReference(source: .environment, name: passwordEnvironment) }
        if let passwordFile { changes.password = try SecretReference(source: .file, name: passwordFile) }
        if let credential { changes.password = try SecretReference(source: .credential, name: credential) }
        changes.thumbprint = thumbprint
        changes.apply(to: &server)
    }
}
