import ArgumentParser
import BlockingIO
import Catalog
import CommandLineSupport
import Foundation
import JobManager
import Secrets

/// Where a proxy host keeps its identity key: `--key-file`, or `proxy-NAME.key` in the data
/// folder (/var/lib/tidemark as root).
struct ProxyKeyFileOption: ParsableArguments {
    @Option(
        name: .customLong("key-file"),
        help: ArgumentHelp(
            "This host's identity key for the proxy (default: proxy-NAME.key in the data folder); made on first use, mode 0600.",
            valueName: "path"))
    var keyFile: String?

    func path(for proxy: String, _ global: GlobalOptions) -> String {
        if let keyFile { return keyFile }
        let folder =
            global.dataDirectory.map { URL(fileURLWithPath: $0) }
            ?? CatalogDatabase.defaultDataDirectory(environment: ProcessInfo.processInfo.environment)
        return folder.appendingPathComponent("proxy-\(proxy).key").path
    }

    /// The identity kept there (made if missing), read off the cooperative pool.
    func identity(for proxy: String, _ global: GlobalOptions) async throws -> (ProxyIdentity, path: String, created: Bool) {
        let path = self.path(for: proxy, global)
        let loaded = try await BlockingIOPool.shared.run { () throws(SecretError) in try ProxyIdentity.load(orCreateAt: path) }
        return (loaded.identity, path, loaded.created)
    }
}

/// `tidemark proxy key NAME`: on the proxy's host, prints the public key to enrol.
struct ProxyKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Print this host's public key for a proxy (making the key file if missing), to enrol on the backup server.")

    @OptionGroup var options: GlobalOptions
    @OptionGroup var key: ProxyKeyFileOption
    @Argument(help: "The proxy's name in the catalog.") var name: String

    func run() async throws {
        let (identity, path, created) = try await key.identity(for: name, options)
        print(created ? "made a new key in \(path)" : "key file \(path)")
        print("public key:  \(identity.publicKeyText)")
        print("fingerprint: \(identity.fingerprint)")
        print("enrol it on the backup server: tidemark proxy enrol \(name) --public-key \(identity.publicKeyText)")
    }
}

/// `tidemark proxy enrol NAME --public-key KEY`: pins the host that may run the proxy.
struct ProxyEnrolCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enrol",
        abstract: "Pin the host that may run a proxy by its public key ('tidemark proxy key NAME' on that host prints it).",
        discussion:
            "The Job Manager gives tasks and vCenter logins only to a proxy process whose registration is signed by the enrolled key. Enrolling a key ends any process registered under another (a squatter, or the host the proxy moves from) and its tasks move; --revoke ends them all, and the Job Manager moves the proxy's data itself. A session that began before takes up a new key at its next session, and stops giving tasks to a replaced one at once.",
        aliases: ["enroll"])

    @OptionGroup var options: CatalogOptions
    @Argument(help: "The proxy's name.") var name: String
    @Option(name: .customLong("public-key"), help: "The host's public key (base64), as 'tidemark proxy key' printed it.")
    var publicKey: String?
    @Flag(help: "Remove the enrolled key: no host runs the proxy.") var revoke = false

    func validate() throws {
        switch (publicKey, revoke) {
        case (nil, false):
            throw ValidationError("give --public-key KEY (from 'tidemark proxy key \(name)' on the proxy's host), or --revoke")
        case (.some, true): throw ValidationError("give --public-key or --revoke, not both")
        case (.some(let text), false):
            guard ProxyIdentity.publicKey(from: text) != nil else {
                throw ValidationError(
                    "--public-key '\(text.prefix(60))' is not a proxy public key (base64 of 32 bytes): copy the 'public key:' line 'tidemark proxy key \(name)' prints on the proxy's host"
                )
            }
        case (nil, true): break
        }
    }

    func run() async throws {
        let key = publicKey.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        let name = self.name
        let current = try await options.withCatalog { catalog in
            let state = try await catalog.load()
            return state.id(of: ProxyDefinition.self, named: name).flatMap { state.proxies[$0]?.definition.enrolledKey }
        }
        // Enrolling the key already enrolled changes nothing in the catalog, and still ends
        // processes registered under another key: how a squatter is cleared.
        if current != key {
            try await CatalogCommandRunner.update(ProxyDefinition.self, named: name, basedOn: nil, options) {
                (proxy: inout ProxyDefinition, _) throws(CatalogError) in
                proxy.enrolledKey = key
            }
        }
        // Any process registered under another key is ended now (a squatter, or the host the
        // key was taken from); its tasks move.
        let raw = key.flatMap(ProxyIdentity.publicKey(from:))
        let actor = options.metadata.actor ?? "tidemark"
        let evicted = try await options.withCatalog(appending: true) { catalog in
            guard let id = try await catalog.load().id(of: ProxyDefinition.self, named: name) else { return [String]() }
            return try await ProxyFleet(store: catalog.events).evict(proxyID: id, proxyName: name, keeping: raw, actor: actor)
        }
        if let raw {
            print("proxy '\(name)' may now run on the host whose key is \(ProxyIdentity.fingerprint(of: raw))")
        } else {
            print("proxy '\(name)' has no enrolled host: the Job Manager moves its data itself")
        }
        if !evicted.isEmpty {
            print("ended \(evicted.count) process(es) registered under another key: \(evicted.joined(separator: ", "))")
        }
    }
}
