import ArgumentParser
import Catalog

/// `tidemark throttle`: bandwidth rules between sources and repositories.
struct ThrottleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "throttle",
        abstract: "Define throttling rules: sources (sites, proxies) to target repositories, a rate, an optional window.",
        subcommands: [
            AddObject<ThrottleOptions>.self, UpdateObject<ThrottleOptions>.self, RemoveObject<ThrottlingRule>.self,
            ListObjects<ThrottlingRule>.self, ShowObject<ThrottlingRule>.self,
        ])
}

struct ThrottleOptions: DefaultedDefinitionOptions {
    @Option(name: .customLong("from-site"), help: "A source site (repeat for several; none and no --from-proxy: any source).")
    var fromSites: [String] = []
    @Option(name: .customLong("from-proxy"), help: "A source proxy by name (repeat for several).") var fromProxies: [String] = []
    @Option(name: .customLong("to-repository"), help: "A target repository by name (repeat; none: any repository).")
    var toRepositories: [String] = []
    @Option(help: ArgumentHelp("The rate sessions under the rule share: 100MB/s, 800Mbit/s, 1Gbps.", valueName: "rate")) var rate: String?
    @Option(help: ArgumentHelp("Apply only in this window, HH:MM-HH:MM ('none': always).", valueName: "window")) var window: String?

    static func blank(named name: String) -> ThrottlingRule { ThrottlingRule(name: name, bytesPerSecond: 0) }

    var missingForAdd: String? { rate == nil ? "a throttling rule needs --rate, such as 100MB/s" : nil }

    func apply(to rule: inout ThrottlingRule, in state: CatalogState) throws(CatalogError) {
        var changes = ThrottleChanges()
        changes.sourceSites = fromSites.isEmpty ? nil : fromSites
        changes.sourceProxies = fromProxies.isEmpty ? nil : fromProxies
        changes.targetRepositories = toRepositories.isEmpty ? nil : toRepositories
        changes.rate = rate
        changes.window = window
        try changes.apply(to: &rule, in: state)
    }
}
