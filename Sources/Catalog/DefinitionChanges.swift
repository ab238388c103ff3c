/// The settings a `tidemark <kind> add|update` or an API `POST`/`PATCH` gives, as changes to
/// a definition: each one given replaces that setting (a list replaces the list), each one left
/// out keeps it. The command line reads them from options, the API from JSON; applying them is
/// this one code, and the definition's own `validate` judges the result in `CatalogDecider`.

/// A repository's settings.
public struct RepositoryChanges: Sendable {
    /// A folder: the repository is (or becomes) a folder, no longer a service.
    public var path: String?
    /// A repository service's address, thumbprint and token file: each given replaces that
    /// part (the others kept), and the repository is (or becomes) that service.
    public var serviceURL: String?
    public var serviceThumbprint: String?
    public var serviceToken: SecretReference?
    public var maxTasks: Int?
    public var freeSpaceThresholdPercent: Int?
    public var site: String?
    /// `.some(nil)`: no scheduled health checks.
    public var verifyEveryDays: Int??
    public var verifyBudgetBytes: Int64?

    public init() {}

    public func apply(to repository: inout RepositoryDefinition) {
        if let path {
            repository.path = path
            repository.service = nil
        }
        if serviceURL != nil || serviceThumbprint != nil || serviceToken != nil {
            let current = repository.service
            repository.service = RepositoryEndpoint(
                url: serviceURL ?? current?.url ?? "", thumbprint: serviceThumbprint ?? current?.thumbprint ?? "",
                tokenReference: serviceToken ?? current?.tokenReference)
            repository.path = ""
        }
        if let maxTasks { repository.maxConcurrentTasks = maxTasks }
        if let freeSpaceThresholdPercent { repository.freeSpaceThresholdPercent = freeSpaceThresholdPercent }
        if let site { repository.site = site }
        if let verifyEveryDays { repository.verifyEveryDays = verifyEveryDays }
        if let verifyBudgetBytes { repository.verifyBudgetBytes = verifyBudgetBytes }
    }
}

/// A proxy's settings.
public struct ProxyChanges: Sendable {
    public var site: String?
    /// Transport modes by name (direct-storage, hot-add, network).
    public var transportModes: [String]?
    public var maxTasks: Int?
    public var datastores: [String]?
    /// `.some(nil)` clears the placement.
    public var host: String??
    public var cluster: String??

    public init() {}

    public func apply(to proxy: inout ProxyDefinition) throws(CatalogError) {
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

/// A throttling rule's settings; proxies and repositories by name, looked up in `state`.
public struct ThrottleChanges: Sendable {
    public var sourceSites: [String]?
    public var sourceProxies: [String]?
    public var targetRepositories: [String]?
    /// `100MB/s`, `800Mbit/s`, `1Gbps`.
    public var rate: String?
    /// `HH:MM-HH:MM`, or `none` for always.
    public var window: String?

    public init() {}

    public func apply(to rule: inout ThrottlingRule, in state: CatalogState) throws(CatalogError) {
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

/// A managed server's settings: a vCenter's address or a lab's folder, the user, where the
/// password is (never the password), a trusted thumbprint.
public struct ServerChanges: Sendable {
    public var vcenter: String?
    public var lab: String?
    public var user: String?
    public var password: SecretReference?
    public var thumbprint: String?

    public init() {}

    public func apply(to server: inout ManagedServer) {
        if let vcenter {
            server.platform = .vcenter
            server.url = vcenter
            server.folder = nil
        }
        if let lab { server = ManagedServer(name: server.name, platform: .lab, folder: lab) }
        if let user { server.user = user }
        if let password { server.passwordReference = password }
        if let thumbprint { server.thumbprint = ManagedServer.normalizedThumbprint(thumbprint) }
    }
}
