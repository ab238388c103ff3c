import Catalog
import CodedErrors
import Foundation
import JobManager

/// `repository add|update`'s settings: `path`, `max_tasks`, `free_space_threshold_percent`,
/// `site`, `verify_every_days` (0: no scheduled health checks), `verify_budget_bytes`.
struct RepositoryFields: DefinitionFields {
    static var kind: CatalogRoutes.Kind { CatalogRoutes.repositories }
    var path: String?
    var maxTasks: Int?
    var freeSpaceThreshold: Int?
    var site: String?
    var verifyEveryDays: Int?
    var verifyBudget: Int?

    init(_ fields: inout JSONFields) throws {
        path = try fields.string("path")
        maxTasks = try fields.integer("max_tasks", in: 1...1_000_000)
        freeSpaceThreshold = try fields.integer("free_space_threshold_percent", in: 0...100)
        site = try fields.string("site")
        verifyEveryDays = try fields.integer("verify_every_days", in: 0...1_000_000)
        verifyBudget = try fields.integer("verify_budget_bytes", in: 1...Int.max)
    }

    static func blank(named name: String) -> RepositoryDefinition { RepositoryDefinition(name: name, path: "") }
    var missingForAdd: String? { path == nil ? "a repository needs 'path', its folder on the server (absolute)" : nil }

    func apply(to repository: inout RepositoryDefinition, in state: CatalogState) throws(CatalogError) {
        if let path { repository.path = path }
        if let maxTasks { repository.maxConcurrentTasks = maxTasks }
        if let freeSpaceThreshold { repository.freeSpaceThresholdPercent = freeSpaceThreshold }
        if let site { repository.site = site }
        if let verifyEveryDays { repository.verifyEveryDays = verifyEveryDays == 0 ? nil : verifyEveryDays }
        if let verifyBudget { repository.verifyBudgetBytes = Int64(verifyBudget) }
    }

    /// A folder that does not exist yet is made on first use; a file there is refused now.
    func checkOnHost(_ host: HostChecks) throws {
        var isFolder: ObjCBool = false
        if let path, FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue {
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
    var site: String?
    var transportModes: [String]?
    var maxTasks: Int?
    var datastores: [String]?
    var host: String??
    var cluster: String??

    init(_ fields: inout JSONFields) throws {
        site = try fields.string("site")
        transportModes = try fields.strings("transport_modes", maximum: 3)
        maxTasks = try fields.integer("max_tasks", in: 1...1_000_000)
        datastores = try fields.strings("datastores", maximum: 1_000, allowEmpty: true)
        host = try fields.clearable("host")
        cluster = try fields.clearable("cluster")
    }

    static func blank(named name: String) -> ProxyDefinition { ProxyDefinition(name: name) }
    var missingForAdd: String? { nil }

    func apply(to proxy: inout ProxyDefinition, in state: CatalogState) throws(CatalogError) {
        if let site { proxy.site = site }
        if let transportModes {
            proxy.transportModes = []
            for mode in transportModes { proxy.transportModes.append(try .parse(mode)) }
            proxy.transportModes.sort()
        }
        if let maxTasks { proxy.maxConcurrentTasks = maxTasks }
        if let datastores { proxy.datastores = datastores }
        if let host { proxy.host = host }
        if let cluster { proxy.cluster = cluster }
    }
}

/// `throttle add|update`'s settings: `source_sites`, `source_proxies` and
/// `target_repositories` (names), `rate` (100MB/s, 800Mbit/s), `window` (HH:MM-HH:MM, or
/// "none" for always).
struct ThrottleFields: DefinitionFields {
    static var kind: CatalogRoutes.Kind { CatalogRoutes.throttlingRules }
    var sourceSites: [String]?
    var sourceProxies: [String]?
    var targetRepositories: [String]?
    var rate: String?
    var window: String?

    init(_ fields: inout JSONFields) throws {
        sourceSites = try fields.strings("source_sites", maximum: 100, allowEmpty: true)
        sourceProxies = try fields.strings("source_proxies", maximum: 100, allowEmpty: true)
        targetRepositories = try fields.strings("target_repositories", maximum: 100, allowEmpty: true)
        rate = try fields.string("rate")
        window = try fields.string("window")
    }

    static func blank(named name: String) -> ThrottlingRule { ThrottlingRule(name: name, bytesPerSecond: 0) }
    var missingForAdd: String? { rate == nil ? "a throttling rule needs 'rate', such as \"100MB/s\"" : nil }

    func apply(to rule: inout ThrottlingRule, in state: CatalogState) throws(CatalogError) {
        if let sourceSites { rule.sourceSites = sourceSites }
        if let sourceProxies {
            rule.sourceProxies = []
            for proxy in sourceProxies { rule.sourceProxies.append(try state.require(ProxyDefinition.self, named: proxy)) }
        }
        if let targetRepositories {
            rule.targetRepositories = []
            for repository in targetRepositories {
                rule.targetRepositories.append(try state.require(RepositoryDefinition.self, named: repository))
            }
        }
        if let rate { rule.bytesPerSecond = try Rate.parse(rate) }
        if let window { rule.window = window.lowercased() == "none" ? nil : try TimeWindow(parsing: window) }
    }
}

/// `server add|update`'s settings: `vcenter` (https://HOST[:PORT]) or `lab` (a folder),
/// `user`, the password as a reference the server resolves (`password_file` in its secrets
/// folder, or `credential`; never the password), `thumbprint`. `--password-env` is the command
/// line's only: through the API it would let a caller send any variable of the server's
/// environment (its database password among them) to a vCenter address of their choosing.
struct ServerFields: DefinitionFields {
    static var kind: CatalogRoutes.Kind { CatalogRoutes.servers }
    var vcenter: String?
    var lab: String?
    var user: String?
    var passwordFile: String?
    var credential: String?
    var thumbprint: String?

    init(_ fields: inout JSONFields) throws {
        vcenter = try fields.string("vcenter")
        lab = try fields.string("lab")
        user = try fields.string("user")
        if try fields.string("password_env") != nil {
            throw APIProblem.badRequest(
                "'password_env' is for 'tidemark server add' on the server's host: through the API name a 'credential' (tidemark credentials add) or a 'password_file' in the secrets folder"
            )
        }
        passwordFile = try fields.string("password_file")
        credential = try fields.string("credential")
        thumbprint = try fields.string("thumbprint")
        if vcenter != nil && lab != nil { throw APIProblem.badRequest("give 'vcenter' or 'lab', not both") }
        if passwordFile != nil && credential != nil { throw APIProblem.badRequest("give 'credential' or 'password_file', not both") }
    }

    static func blank(named name: String) -> ManagedServer { ManagedServer(name: name, platform: .vcenter) }
    var missingForAdd: String? {
        vcenter == nil && lab == nil ? "say what it is: 'vcenter': \"https://HOST\" or 'lab': \"/path/to/lab\"" : nil
    }

    func apply(to server: inout ManagedServer, in state: CatalogState) throws(CatalogError) {
        if let vcenter {
            server.platform = .vcenter
            server.url = vcenter
            server.folder = nil
        }
        if let lab { server = ManagedServer(name: server.name, platform: .lab, folder: lab) }
        if let user { server.user = user }
        if let passwordFile { server.passwordReference = try SecretReference(source: .file, name: passwordFile) }
        if let credential { server.passwordReference = try SecretReference(source: .credential, name: credential) }
        if let thumbprint { server.thumbprint = ManagedServer.normalizedThumbprint(thumbprint) }
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
