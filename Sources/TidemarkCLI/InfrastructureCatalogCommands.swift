import ArgumentParser
import Catalog
import Foundation

/// `tidemark server`: the vCenters and labs Tidemark backs VMs up from.
struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Register the vCenters (or labs) whose VMs Tidemark backs up.",
        subcommands: [Add.self, Update.self, RemoveObject<ManagedServer>.self, ListObjects<ManagedServer>.self, ShowObject<ManagedServer>.self])

    struct Fields: ParsableArguments {
        @Option(help: ArgumentHelp("A vCenter's address: https://HOST[:PORT].", valueName: "url")) var vcenter: String?
        @Option(help: ArgumentHelp("A lab: the absolute path of its folder.", valueName: "folder")) var lab: String?
        @Option(help: "The vCenter user.") var user: String?
        @Option(name: .customLong("password-env"), help: ArgumentHelp("The environment variable holding the password (the password never enters the catalog).", valueName: "var"))
        var passwordEnvironment: String?
        @Option(name: .customLong("password-file"), help: ArgumentHelp("A file holding the password.", valueName: "path")) var passwordFile: String?
        @Option(help: ArgumentHelp("Trust a certificate no CA vouches for by its SHA-256 thumbprint.", valueName: "hex")) var thumbprint: String?

        func apply(to server: inout ManagedServer) throws(CatalogError) {
            if let vcenter {
                server.platform = .vcenter
                server.url = vcenter
                server.folder = nil
            }
            if let lab {
                server = ManagedServer(name: server.name, platform: .lab, folder: lab)
            }
            if let user { server.user = user }
            if let passwordEnvironment { server.passwordReference = try SecretReference(source: .environment, name: passwordEnvironment) }
            if let passwordFile { server.passwordReference = try SecretReference(source: .file, name: passwordFile) }
            if let thumbprint { server.thumbprint = ManagedServer.normalizedThumbprint(thumbprint) }
        }

        func validate() throws {
            if vcenter != nil && lab != nil { throw ValidationError("give --vcenter or --lab, not both") }
            if passwordEnvironment != nil && passwordFile != nil { throw ValidationError("give --password-env or --password-file, not both") }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a vCenter (--vcenter) or a lab folder (--lab).")
        @OptionGroup var options: CatalogOptions
        @Argument(help: "A name for it.") var name: String
        @OptionGroup var fields: Fields

        func run() async throws {
            guard fields.vcenter != nil || fields.lab != nil else {
                throw ValidationError("say what it is: --vcenter https://HOST or --lab /path/to/lab")
            }
            let name = self.name, fields = self.fields
            try await CatalogCommandRunner.add(options) { _ throws(CatalogError) in
                var server = ManagedServer(name: name, platform: fields.lab != nil ? .lab : .vcenter)
                try fields.apply(to: &server)
                return server
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a managed server's settings or name.")
        @OptionGroup var options: CatalogOptions
        @OptionGroup var version: VersionOption
        @Argument(help: "Its current name.") var name: String
        @Option(name: .customLong("name"), help: "A new name.") var newName: String?
        @OptionGroup var fields: Fields

        func run() async throws {
            let newName = self.newName, fields = self.fields
            try await CatalogCommandRunner.update(ManagedServer.self, named: name, basedOn: version.expectedVersion, options) {
                (server: inout ManagedServer, _) throws(CatalogError) in
                if let newName { server.name = newName }
                try fields.apply(to: &server)
            }
        }
    }
}

/// `tidemark repository add|update|remove|list|show`: repositories in the catalog.
struct RepositoryFields: ParsableArguments {
    @Option(help: "The repository's folder (absolute).") var path: String?
    @Option(name: .customLong("max-tasks"), help: "Tasks (VM disks) written at once across all sessions (default 4).") var maxTasks: Int?
    @Option(name: .customLong("free-space-threshold"), help: ArgumentHelp("Take no new task below this share of free space (default 10%).", valueName: "percent"))
    var freeSpaceThreshold: String?
    @Option(help: "The site it stands in (default 'default').") var site: String?

    func apply(to repository: inout RepositoryDefinition) throws(CatalogError) {
        if let path { repository.path = path }
        if let maxTasks { repository.maxConcurrentTasks = maxTasks }
        if let freeSpaceThreshold {
            guard let percent = Int(freeSpaceThreshold.hasSuffix("%") ? String(freeSpaceThreshold.dropLast()) : freeSpaceThreshold) else {
                throw CatalogError(.invalidValue, "--free-space-threshold '\(freeSpaceThreshold)' is not a percentage: write 10%")
            }
            repository.freeSpaceThresholdPercent = percent
        }
        if let site { repository.site = site }
    }
}

struct AddRepository: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Add a repository to the catalog (the folder itself: 'repository create').")
    @OptionGroup var options: CatalogOptions
    @Argument(help: "A name for it.") var name: String
    @OptionGroup var fields: RepositoryFields

    func run() async throws {
        guard fields.path != nil else { throw ValidationError("a repository needs --path /absolute/folder") }
        let name = self.name, fields = self.fields
        try await CatalogCommandRunner.add(options) { _ throws(CatalogError) in
            var repository = RepositoryDefinition(name: name, path: "")
            try fields.apply(to: &repository)
            return repository
        }
    }
}

struct UpdateRepository: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "update", abstract: "Change a repository's settings or name.")
    @OptionGroup var options: CatalogOptions
    @OptionGroup var version: VersionOption
    @Argument(help: "Its current name.") var name: String
    @Option(name: .customLong("name"), help: "A new name.") var newName: String?
    @OptionGroup var fields: RepositoryFields

    func run() async throws {
        let newName = self.newName, fields = self.fields
        try await CatalogCommandRunner.update(RepositoryDefinition.self, named: name, basedOn: version.expectedVersion, options) {
            (repository: inout RepositoryDefinition, _) throws(CatalogError) in
            if let newName { repository.name = newName }
            try fields.apply(to: &repository)
        }
    }
}

/// `tidemark proxy`: the data movers and where they reach.
struct ProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Define backup proxies: their site, transport modes, task limit and placement.",
        subcommands: [Add.self, Update.self, RemoveObject<ProxyDefinition>.self, ListObjects<ProxyDefinition>.self, ShowObject<ProxyDefinition>.self])

    struct Fields: ParsableArguments {
        @Option(help: "The site it stands in (default 'default').") var site: String?
        @Option(help: ArgumentHelp("Transport modes it can use, comma-separated: direct-storage, hot-add, network (default network).", valueName: "modes"))
        var transport: String?
        @Option(name: .customLong("max-tasks"), help: "Tasks it runs at once (default 2).") var maxTasks: Int?
        @Option(help: ArgumentHelp("Datastores it reaches directly, comma-separated.", valueName: "names")) var datastores: String?
        @Option(help: "The ESXi host the proxy VM runs on (hot-add).") var host: String?
        @Option(help: "The cluster the proxy VM runs in (hot-add).") var cluster: String?

        func apply(to proxy: inout ProxyDefinition) throws(CatalogError) {
            if let site { proxy.site = site }
            if let transport {
                proxy.transportModes = []
                for mode in transport.split(separator: ",") { proxy.transportModes.append(try .parse(String(mode))) }
                proxy.transportModes.sort()
            }
            if let maxTasks { proxy.maxConcurrentTasks = maxTasks }
            if let datastores { proxy.datastores = datastores.split(separator: ",").map(String.init) }
            if let host { proxy.host = host.isEmpty ? nil : host }
            if let cluster { proxy.cluster = cluster.isEmpty ? nil : cluster }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a proxy.")
        @OptionGroup var options: CatalogOptions
        @Argument(help: "A name for it.") var name: String
        @OptionGroup var fields: Fields

        func run() async throws {
            let name = self.name, fields = self.fields
            try await CatalogCommandRunner.add(options) { _ throws(CatalogError) in
                var proxy = ProxyDefinition(name: name)
                try fields.apply(to: &proxy)
                return proxy
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a proxy's settings or name.")
        @OptionGroup var options: CatalogOptions
        @OptionGroup var version: VersionOption
        @Argument(help: "Its current name.") var name: String
        @Option(name: .customLong("name"), help: "A new name.") var newName: String?
        @OptionGroup var fields: Fields

        func run() async throws {
            let newName = self.newName, fields = self.fields
            try await CatalogCommandRunner.update(ProxyDefinition.self, named: name, basedOn: version.expectedVersion, options) {
                (proxy: inout ProxyDefinition, _) throws(CatalogError) in
                if let newName { proxy.name = newName }
                try fields.apply(to: &proxy)
            }
        }
    }
}

/// `tidemark throttle`: bandwidth rules between sources and repositories.
struct ThrottleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "throttle",
        abstract: "Define throttling rules: sources (sites, proxies) to target repositories, a rate, an optional window.",
        subcommands: [Add.self, Update.self, RemoveObject<ThrottlingRule>.self, ListObjects<ThrottlingRule>.self, ShowObject<ThrottlingRule>.self])

    struct Fields: ParsableArguments {
        @Option(name: .customLong("from-site"), help: "A source site (repeat for several; none and no --from-proxy: any source).") var fromSites: [String] = []
        @Option(name: .customLong("from-proxy"), help: "A source proxy by name (repeat for several).") var fromProxies: [String] = []
        @Option(name: .customLong("to-repository"), help: "A target repository by name (repeat; none: any repository).") var toRepositories: [String] = []
        @Option(help: ArgumentHelp("The rate sessions under the rule share: 100MB/s, 800Mbit/s, 1Gbps.", valueName: "rate")) var rate: String?
        @Option(help: ArgumentHelp("Apply only in this window, HH:MM-HH:MM ('none': always).", valueName: "window")) var window: String?

        func apply(to rule: inout ThrottlingRule, in state: CatalogState) throws(CatalogError) {
            if !fromSites.isEmpty { rule.sourceSites = fromSites }
            if !fromProxies.isEmpty {
                rule.sourceProxies = []
                for proxy in fromProxies { rule.sourceProxies.append(try state.require(ProxyDefinition.self, named: proxy)) }
            }
            if !toRepositories.isEmpty {
                rule.targetRepositories = []
                for repository in toRepositories { rule.targetRepositories.append(try state.require(RepositoryDefinition.self, named: repository)) }
            }
            if let rate { rule.bytesPerSecond = try Rate.parse(rate) }
            if let window { rule.window = window.lowercased() == "none" ? nil : try TimeWindow(parsing: window) }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a throttling rule.")
        @OptionGroup var options: CatalogOptions
        @Argument(help: "A name for it.") var name: String
        @OptionGroup var fields: Fields

        func run() async throws {
            guard fields.rate != nil else { throw ValidationError("a throttling rule needs --rate, such as 100MB/s") }
            let name = self.name, fields = self.fields
            try await CatalogCommandRunner.add(options) { state throws(CatalogError) in
                var rule = ThrottlingRule(name: name, bytesPerSecond: 0)
                try fields.apply(to: &rule, in: state)
                return rule
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a throttling rule.")
        @OptionGroup var options: CatalogOptions
        @OptionGroup var version: VersionOption
        @Argument(help: "Its current name.") var name: String
        @Option(name: .customLong("name"), help: "A new name.") var newName: String?
        @OptionGroup var fields: Fields

        func run() async throws {
            let newName = self.newName, fields = self.fields
            try await CatalogCommandRunner.update(ThrottlingRule.self, named: name, basedOn: version.expectedVersion, options) {
                (rule: inout ThrottlingRule, state) throws(CatalogError) in
                if let newName { rule.name = newName }
                try fields.apply(to: &rule, in: state)
            }
        }
    }
}
