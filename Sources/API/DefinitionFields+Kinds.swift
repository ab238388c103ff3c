import Catalog
import CodedErrors
import Foundation
import JobManager
import RemoteRepository

/// `repository add|update`'s settings: `path`, or a repository service's `url`, `thumbprint`
/// and `token_file` (in the server's secrets folder; never the token); `max_tasks`,
/// `free_space_threshold_percent`, `site`, `verify_every_days` (0: no scheduled health
/// checks), `verify_budget_bytes`.
struct RepositoryFields: DefinitionFields {
    static var kind: CatalogRoutes.Kind { CatalogRoutes.repositories }
    var changes = RepositoryChanges()
    var tokenFile: String?

    init(_ fields: inout JSONFields) throws {
        changes.path = try fields.string("path")
        changes.serviceURL = try fields.string("url")
        changes.serviceThumbprint = try fields.string("thumbprint").map(RepositoryEndpoint.normalized)
        tokenFile = try fields.string("token_file")
        if let tokenFile {
            do {
                changes.serviceToken = try SecretReference(source: .file, name: tokenFile)
            } catch {
                throw APIProblem.badRequest(error.message)
            }
        }
        if changes.path != nil && (changes.serviceURL != nil || changes.serviceThumbprint != nil || tokenFile != nil) {
            throw APIProblem.badRequest(
                "a repository is a folder ('path') or a repository service ('url', 'thumbprint', 'token_file'), not both")
        }
        // Together, so the service can be asked before the catalog changes: an address, a pin
        // or a token changed alone would be appended unchecked.
        let service = [changes.serviceURL, changes.serviceThumbprint, tokenFile].compactMap { $0 }.count
        if service > 0 && service < 3 {
            throw APIProblem.badRequest(
                "a repository service is given or changed with all of 'url', 'thumbprint' (as 'tidemark repository serve' printed it) and 'token_file', so it can be asked before the catalog changes"
            )
        }
        changes.maxTasks = try fields.integer("max_tasks", in: 1...1_000_000)
        changes.freeSpaceThresholdPercent = try fields.integer("free_space_threshold_percent", in: 0...100)
        changes.site = try fields.string("site")
        changes.verifyEveryDays = try fields.integer("verify_every_days", in: 0...1_000_000).map { $0 == 0 ? nil : $0 }
        changes.verifyBudgetBytes = try fields.integer("verify_budget_bytes", in: 1...Int.max).map(Int64.init)
    }

    static func blank(named name: String) -> RepositoryDefinition { RepositoryDefinition(name: name, path: "") }
    var missingForAdd: String? {
        if changes.path == nil && changes.serviceURL == nil {
            return
                "a repository needs 'path', its folder on the server (absolute), or 'url', 'thumbprint' and 'token_file' for a repository service"
        }
        return nil
    }
    func apply(to repository: inout RepositoryDefinition, in state: CatalogState) { changes.apply(to: &repository) }

    /// A folder that does not exist yet is made on first use; a file there is refused now. A
    /// repository service is asked for its status with the token through the pinned
    /// certificate (a token file that is not a service's token is refused before any request).
    func checkOnHost(_ host: HostChecks) throws {
        if let tokenFile {
            guard let secrets = host.secrets else {
                throw APIProblem.badRequest("this server has no secrets folder to read 'token_file' from")
            }
            var token = ""
            try ServerFields.readable { token = try secrets.files.read(tokenFile, what: "token file") }
            if let url = changes.serviceURL, let thumbprint = changes.serviceThumbprint {
                do {
                    _ = try RepositoryServiceClient(url: url, token: token, thumbprint: thumbprint, connectTimeout: 10, stallTimeout: 30)
                        .status()
                } catch {
                    throw APIProblem.badRequest("nothing changed in the catalog: \(error.message)")
                }
            }
        }
        var isFolder: ObjCBool = false
        if let path = changes.path, FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue {
            throw APIProblem.badRequest(
                "'path' \(path) is a file on the server, not a folder: give the folder the repository lives in (made on first use if missing)"
            )
        }
    }
}

/// `proxy add|update`'s settings: `site`, `transport_modes`, `max_tasks`, `datastores`,
/// `host` and `cluster` (hot-add placement; "" or null clears).
struct ProxyFields: DefinitionFields {
    static var kind: CatalogRoutes.Kind { CatalogRoutes.proxies }
    var changes = ProxyChanges()

    init(_ fields: inout JSONFields) throws {
        changes.site = try fields.string("site")
        changes.transportModes = try fields.strings("transport_modes", maximum: 3)
        changes.maxTasks = try fields.integer("max_tasks", in: 1...1_000_000)
        changes.datastores = try fields.strings("datastores", maximum: 1_000, allowEmpty: true)
        changes.host = try fields.clearable("host")
        changes.cluster = try fields.clearable("cluster")
    }

    static func blank(named name: String) -> ProxyDefinition { ProxyDefinition(name: name) }
    var missingForAdd: String? { nil }
    func apply(to proxy: inout ProxyDefinition, in state: CatalogState) throws(CatalogError) { try changes.apply(to: &proxy) }
}

/// `throttle add|update`'s settings: `source_sites`, `source_proxies` and
/// `target_repositories` (names), `rate` (100MB/s, 800Mbit/s), `window` (HH:MM-HH:MM, or
/// "none" for always).
struct ThrottleFields: DefinitionFields {
    static var kind: CatalogRoutes.Kind { CatalogRoutes.throttlingRules }
    var changes = ThrottleChanges()

    init(_ fields: inout JSONFields) throws {
        changes.sourceSites = try fields.strings("source_sites", maximum: 100, allowEmpty: true)
        changes.sourceProxies = try fields.strings("source_proxies", maximum: 100, allowEmpty: true)
        changes.targetRepositories = try fields.strings("target_repositories", maximum: 100, allowEmpty: true)
        changes.rate = try fields.string("rate")
        changes.window = try fields.string("window")
    }

    static func blank(named name: String) -> ThrottlingRule { ThrottlingRule(name: name, bytesPerSecond: 0) }
    var missingForAdd: String? { changes.rate == nil ? "a throttling rule needs 'rate', such as \"100MB/s\"" : nil }
    func apply(to rule: inout ThrottlingRule, in state: CatalogState) throws(CatalogError) { try changes.apply(to: &rule, in: state) }
}

/// `server add|update`'s settings: `vcenter` (https://HOST[:PORT]) or `lab` (a folder),
/// `user`, the password as a reference the server resolves (`password_file` in its secrets
/// folder, or `credential`; never the password), `thumbprint`. `--password-env` is the command
/// line's only: through the API it would let a caller send any variable of the server's
/// environment (its database password among them) to a vCenter address of their choosing.
struct ServerFields: DefinitionFields {
    static var kind: CatalogRoutes.Kind { CatalogRoutes.servers }
    var changes = ServerChanges()
    var passwordFile: String?
    var credential: String?

    init(_ fields: inout JSONFields) throws {
        changes.vcenter = try fields.string("vcenter")
        changes.lab = try fields.string("lab")
        changes.user = try fields.string("user")
        if try fields.string("password_env") != nil {
            throw APIProblem.badRequest(
                "'password_env' is for 'tidemark server add' on the server's host: through the API name a 'credential' (tidemark credentials add) or a 'password_file' in the secrets folder"
            )
        }
        passwordFile = try fields.string("password_file")
        credential = try fields.string("credential")
        changes.thumbprint = try fields.string("thumbprint")
        if changes.vcenter != nil && changes.lab != nil { throw APIProblem.badRequest("give 'vcenter' or 'lab', not both") }
        if passwordFile != nil && credential != nil { throw APIProblem.badRequest("give 'credential' or 'password_file', not both") }
    }

    static func blank(named name: String) -> ManagedServer { ManagedServer(name: name, platform: .vcenter) }
    var missingForAdd: String? {
        changes.vcenter == nil && changes.lab == nil ? "say what it is: 'vcenter': \"https://HOST\" or 'lab': \"/path/to/lab\"" : nil
    }

    func apply(to server: inout ManagedServer, in state: CatalogState) throws(CatalogError) {
        var changes = self.changes
        if let passwordFile { changes.password = try SecretReference(source: .file, name: passwordFile) }
        if let credential { changes.password = try SecretReference(source: .credential, name: credential) }
        changes.apply(to: &server)
    }

    /// The reference must name something this server can use: a file or credential readable here.
    func checkOnHost(_ host: HostChecks) throws {
        guard passwordFile != nil || credential != nil else { return }
        guard let secrets = host.secrets else {
            throw APIProblem.badRequest("this server has no secrets folder to read 'password_file' or 'credential' from")
        }
        // Read apart, one untyped catch each: `catch let error as any CodedError` over these
        // typed throws crashes Swift 6.3.1's SIL ownership checker.
        if let passwordFile { try Self.readable { _ = try secrets.files.read(passwordFile) } }
        if let credential { try Self.readable { _ = try secrets.credentials.read(credential) } }
    }

    static func readable(_ read: () throws -> Void) throws {
        do { try read() } catch { throw APIProblem.badRequest((error as? any CodedError)?.message ?? "\(error)") }
    }
}
