import ArgumentParser
import Catalog
import CatalogStore
import CommandLineSupport
import EventStore
import Foundation

/// `tidemark job`: backup jobs, from the command line or from YAML files in version control.
struct JobCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "job",
        abstract: "Define backup jobs: what, where to, with which proxies, when, and how long to keep it.",
        subcommands: [
            AddObject<JobOptions>.self, UpdateObject<JobOptions>.self, RemoveObject<JobDefinition>.self, ListObjects<JobDefinition>.self,
            ShowObject<JobDefinition>.self, Switch<EnableJob>.self, Switch<DisableJob>.self, JobStart.self, JobStop.self, Apply.self,
            Export.self,
            History.self,
        ])

    static var localTimeZone: String { TimeZone.current.identifier }

    /// `job enable` and `job disable`.
    struct Switch<Setting: JobSwitchSetting>: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(commandName: Setting.commandName, abstract: Setting.abstract)
        }

        @OptionGroup var options: CatalogOptions
        @Argument(help: "The job's name.") var name: String

        func run() async throws {
            try await CatalogCommandRunner.update(JobDefinition.self, named: name, basedOn: nil, options) {
                (job: inout JobDefinition, _) throws(CatalogError) in job.enabled = Setting.enabled
            }
        }
    }

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make the catalog's jobs match a YAML file (one job per document): adds new jobs, updates changed ones.",
            discussion:
                "Fields a document leaves out take their defaults. The whole file is checked before anything is written: one bad job writes nothing."
        )
        @OptionGroup var options: CatalogOptions
        @Option(name: .customShort("f"), help: ArgumentHelp("The YAML file ('-' for standard input).", valueName: "file")) var file: String
        @Flag(name: .customLong("dry-run"), help: "Show what would change, change nothing.") var dryRun = false

        func run() async throws {
            let text: String
            if file == "-" {
                text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            } else {
                do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
                    throw CommandFailure("cannot read '\(file)': \(error.localizedDescription)")
                }
            }
            let documents = try JobDocument.parse(text, file: file == "-" ? "standard input" : file)
            let plan = try await options.withCatalog(appending: !dryRun) { catalog -> [CatalogChange] in
                if dryRun {
                    return try JobDocument.plan(documents, in: try await catalog.load(), defaultTimeZone: JobCommand.localTimeZone)
                }
                return try await catalog.execute(metadata: options.metadata) { state throws(CatalogError) in
                    try JobDocument.plan(documents, in: state, defaultTimeZone: JobCommand.localTimeZone)
                }
            }
            var byStream: [String: [CatalogChange]] = [:]
            for change in plan { byStream[change.stream, default: []].append(change) }
            var reported = Set<String>()
            for change in plan where reported.insert(change.stream).inserted {
                let group = byStream[change.stream]!
                let name = group.lazy.compactMap(CatalogCommandRunner.name(in:)).first ?? change.id
                let verb = change.eventType == "JobAdded" ? "add" : "update (\(group.flatMap(\.changedFields).joined(separator: ", ")))"
                print("\(dryRun ? "would " : "")\(verb) job '\(name)'")
            }
            let unchanged = documents.count - reported.count
            if unchanged > 0 { print("\(unchanged) job(s) unchanged") }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print jobs as YAML for 'job apply' (every job without a name).")
        @OptionGroup var options: CatalogOptions
        @Argument(help: "The job's name.") var name: String?
        @Option(name: .customLong("as-of"), help: ArgumentHelp("Export the job as it was then.", valueName: "time")) var asOf: String?

        func validate() throws { _ = try ViewOptions.parseMoment(asOf) }

        func run() async throws {
            let moment = try ViewOptions.parseMoment(asOf)
            let state = try await options.withCatalog { try await $0.load(asOf: moment) }
            var jobs = state.jobs.values.sorted { $0.definition.name.lowercased() < $1.definition.name.lowercased() }
            if let name {
                let id = try state.require(JobDefinition.self, named: name)
                jobs = jobs.filter { $0.id == id }
            }
            print(jobs.map { JobDocument.export(JobSettings($0.definition, in: state)) }.joined(separator: "---\n"), terminator: "")
        }
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every change to a job: when, who, and field by field what changed (removed jobs too).")
        @OptionGroup var options: CatalogOptions
        @Argument(help: "The job's name (current, or the last it had).") var name: String
        @Flag(help: "Print JSON for scripts.") var json = false

        func run() async throws {
            let name = self.name
            let (state, events) = try await options.withCatalog { catalog -> (CatalogState, [RecordedEvent]) in
                let state = try await catalog.load()
                guard let id = state.jobID(nowOrFormerlyNamed: name) else { return (state, []) }
                return (state, try await catalog.history(of: .job, id: id))
            }
            guard !events.isEmpty else {
                throw CatalogError(
                    .notFound,
                    UnknownName.message(
                        "job", name, relation: "is or was named", known: state.jobs.values.map(\.definition.name),
                        listCommand: "tidemark job list"))
            }
            let entries = try JobHistory.entries(events, names: state)
            if json {
                print("[" + entries.map(\.json).joined(separator: ",") + "]")
            } else {
                for entry in entries { print(entry.text) }
            }
        }
    }
}

protocol JobSwitchSetting: Sendable {
    static var commandName: String { get }
    static var abstract: String { get }
    static var enabled: Bool { get }
}

enum EnableJob: JobSwitchSetting {
    static let commandName = "enable"
    static let abstract = "Switch a job on: its schedule runs it again."
    static let enabled = true
}

enum DisableJob: JobSwitchSetting {
    static let commandName = "disable"
    static let abstract = "Switch a job off: its schedule no longer runs it (manual starts still do)."
    static let enabled = false
}
