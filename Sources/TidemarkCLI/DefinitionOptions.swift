import ArgumentParser
import Catalog
import CommandLineSupport

/// The settings of one kind of catalog object as command-line options, shared by its `add`
/// (which starts from the kind's defaults) and its `update` (which changes only what is given).
protocol DefinitionOptions: ParsableArguments, Sendable {
    associatedtype Definition: CatalogDefinition
    /// A new object named `name` with these options applied.
    func makeNew(named name: String, in state: CatalogState) throws(CatalogError) -> Definition
    /// Applies the options given to an existing object.
    func apply(to definition: inout Definition, in state: CatalogState) throws(CatalogError)
    /// What `add` cannot do without, as a message naming the option (nil: nothing missing).
    var missingForAdd: String? { get }
    /// Checks against this host before anything is appended (a secret's reference must name
    /// something the service can use); most kinds have none.
    func checkOnHost(_ global: GlobalOptions) async throws
}

extension DefinitionOptions {
    func checkOnHost(_ global: GlobalOptions) throws {}
}

struct AddObject<Options: DefinitionOptions>: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "add", abstract: "Add a \(Options.Definition.kind.displayName).")
    }

    @OptionGroup var options: CatalogOptions
    @Argument(help: "A name for it.") var name: String
    @OptionGroup var fields: Options

    /// A missing setting is a usage error, refused with the usage before anything runs.
    func validate() throws {
        if let missing = fields.missingForAdd { throw ValidationError(missing) }
    }

    func run() async throws {
        let name = self.name, fields = self.fields
        try await fields.checkOnHost(options.global)
        try await CatalogCommandRunner.add(options) { state throws(CatalogError) in
            try fields.makeNew(named: name, in: state)
        }
    }
}

struct UpdateObject<Options: DefinitionOptions>: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "update",
            abstract: "Change a \(Options.Definition.kind.displayName)'s settings or name (lists given replace the old lists).")
    }

    @OptionGroup var options: CatalogOptions
    @OptionGroup var version: VersionOption
    @Argument(help: "Its current name.") var name: String
    @Option(name: .customLong("name"), help: "A new name.") var newName: String?
    @OptionGroup var fields: Options

    func run() async throws {
        let newName = self.newName, fields = self.fields
        try await fields.checkOnHost(options.global)
        try await CatalogCommandRunner.update(Options.Definition.self, named: name, basedOn: version.expectedVersion, options) {
            (definition: inout Options.Definition, state) throws(CatalogError) in
            try fields.apply(to: &definition, in: state)
            if let newName { definition.name = newName }
        }
    }
}

/// The kinds whose new objects are their defaults with the options applied.
protocol DefaultedDefinitionOptions: DefinitionOptions {
    static func blank(named name: String) -> Definition
}

extension DefaultedDefinitionOptions {
    func makeNew(named name: String, in state: CatalogState) throws(CatalogError) -> Definition {
        var definition = Self.blank(named: name)
        try apply(to: &definition, in: state)
        return definition
    }
}
