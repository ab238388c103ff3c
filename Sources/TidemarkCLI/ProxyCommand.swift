import ArgumentParser
import Catalog

/// `tidemark proxy`: the data movers and where they reach.
struct ProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Define backup proxies (site, transport modes, task limit, placement) and run them on other hosts.",
        subcommands: [
            AddObject<ProxyOptions>.self, UpdateObject<ProxyOptions>.self, RemoveObject<ProxyDefinition>.self,
            ProxyListCommand.self, ShowObject<ProxyDefinition>.self, ProxyKeyCommand.self, ProxyEnrolCommand.self, ProxyRunCommand.self,
        ])
}

struct ProxyOptions: DefaultedDefinitionOptions {
    @Option(help: "The site it stands in (default 'default').") var site: String?
    @Option(
        help: ArgumentHelp(
            "Transport modes it can use, comma-separated: direct-storage, hot-add, network (default network).", valueName: "modes"))
    var transport: String?
    @Option(name: .customLong("max-tasks"), help: "Tasks it runs at once (default 2).") var maxTasks: Int?
    @Option(help: ArgumentHelp("Datastores it reaches directly, comma-separated.", valueName: "names")) var datastores: String?
    @Option(help: "The ESXi host the proxy VM runs on (hot-add; '' to clear).") var host: String?
    @Option(help: "The cluster the proxy VM runs in (hot-add; '' to clear).") var cluster: String?

    static func blank(named name: String) -> ProxyDefinition { ProxyDefinition(name: name) }

    var missingForAdd: String? { nil }

    func apply(to proxy: inout ProxyDefinition, in state: CatalogState) throws(CatalogError) {
        var changes = ProxyChanges()
        changes.site = site
        changes.transportModes = transport.map { $0.split(separator: ",").map(String.init) }
        changes.maxTasks = maxTasks
        changes.datastores = datastores.map { $0.split(separator: ",").map(String.init) }
        changes.host = host.map { $0.isEmpty ? nil : $0 }
        changes.cluster = cluster.map { $0.isEmpty ? nil : $0 }
        try changes.apply(to: &proxy)
    }
}
