import ArgumentParser
import Catalog
import CatalogStore
import EventStore
import Foundation

/// `tidemark job`: backup jobs, from the command line or from YAML files in version control.
struct JobCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "job",
        abstract: "Define backup jobs: what, where to, with which proxies, when, and how long to keep it.",
        subcommands: [
            Add.self, Update.self, RemoveObject<JobDefinition>.self, ListObjects<JobDefinition>.self, ShowObject<JobDefinition>.self,
            Enable.self, Disable.self, Apply.self, Export.self, History.self,
        ])

    /// Every job setting as an option; `add` requires some, `update` changes only those given.
    struct Fields: ParsableArguments {
        @Option(help: "What the job is for.") var description: String?
        @Option(help: "The managed server the VMs live on.") var server: String?
        @Option(name: .customLong("object"), help: ArgumentHelp("What to back up, in order: vm:NAME, folder:PATH, cluster:NAME, host:NAME, tag:NAME (repeat).", valueName: "kind:name"))
        var objects: [String] = []
        @Option(name: .customLong("exclude"), help: ArgumentHelp("Leave out vm:NAME or disk:VM/KEY (repeat).", valueName: "exclusion")) var exclusions: [String] = []
        @Option(help: "The target repository.") var repository: String?
        @Option(name: .customLong("proxy"), help: ArgumentHelp("A proxy to use (repeat), or 'automatic' (the default).", valueName: "name")) var proxies: [String] = []
        @Option(name: .customLong("parallel"), help: ArgumentHelp("Process VMs and disks in parallel within the task limits: yes or no (default yes).", valueName: "yes|no"))
        var parallel: String?
        @Option(help: ArgumentHelp(
            "manual | daily at HH:MM[,HH:MM] [on mon-fri] | monthly on day N at HH:MM | monthly on the first..fourth|last DAY at HH:MM | every N minutes|hours | continuously | after JOB",
            valueName: "schedule"))
        var schedule: String?
        @Option(name: .customLong("time-zone"), help: "The schedule's IANA time zone (default: this machine's).") var timeZone: String?
        @Option(name: .customLong("backup-window"), help: ArgumentHelp("Stop transport outside HH:MM-HH:MM ('none': no window).", valueName: "window"))
        var backupWindow: String?
        @Option(help: ArgumentHelp("'7 restore points' (the default, at least 3) or '14 days'.", valueName: "retention")) var retention: String?
        @Option(name: .customLong("retry-count"), help: "Retries of failed VMs inside the session (default 3).") var retryCount: Int?
        @Option(name: .customLong("retry-wait"), help: ArgumentHelp("Minutes between retries (default 10).", valueName: "minutes")) var retryWait: Int?
        @Option(name: .customLong("application-aware"), help: "require-success, ignore-failures or off (the default).") var applicationAware: String?
        @Option(name: .customLong("block-size"), help: "256K, 512K, 1M (the default), 2M, 4M or 8M.") var blockSize: String?
        @Option(name: .customLong("compression-level"), help: "zstd level 0 (none) to 19 (default 3).") var compressionLevel: Int?

        func settings(name: String?) throws -> JobSettings {
            var settings = JobSettings()
            settings.name = name
            settings.description = description
            settings.server = server
            settings.objects = objects.isEmpty ? nil : objects
            settings.exclusions = exclusions.isEmpty ? nil : exclusions
            settings.repository = repository
            settings.proxies = proxies.isEmpty ? nil : proxies
            if let parallel {
                switch parallel.lowercased() {
                case "yes", "true", "on": settings.parallelProcessing = true
                case "no", "false", "off": settings.parallelProcessing = false
                default: throw ValidationError("--parallel '\(parallel)': say yes or no")
                }
            }
            settings.schedule = schedule
            settings.timeZone = timeZone
            settings.backupWindow = backupWindow
            settings.retention = retention
            settings.retryCount = retryCount
            settings.retryWaitMinutes = retryWait
            settings.applicationAware = applicationAware
            settings.blockSize = blockSize
            settings.compressionLevel = compressionLevel
            return settings
        }
    }

    static var localTimeZone: String { TimeZone.current.identifier }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a job.")
        @OptionGroup var options: CatalogOptions
        @Argument(help: "A name for it.") var name: String
        @OptionGroup var fields: Fields
        @Flag(help: "Add it switched off.") var disabled = false

        func run() async throws {
            var settings = try fields.settings(name: name)
            if disabled { settings.enabled = false }
            let ready = settings
            try await CatalogCommandRunner.add(options) { state throws(CatalogError) in
                try ready.definition(base: nil, in: state, defaultTimeZone: JobCommand.localTimeZone)
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a job's settings or name (lists given replace the old lists).")
        @OptionGroup var options: CatalogOptions
        @OptionGroup var version: VersionOption
        @Argument(help: "Its current name.") var name: String
        @Option(name: .customLong("name"), help: "A new name.") var newName: String?
        @OptionGroup var fields: Fields

        func run() async throws {
            let settings = try fields.settings(name: newName)
            try await CatalogCommandRunner.update(JobDefinition.self, named: name, basedOn: version.expectedVersion, options) {
                (job: inout JobDefinition, state) throws(CatalogError) in
                job = try settings.definition(base: job, in: state, defaultTimeZone: JobCommand.localTimeZone)
            }
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Switch a job on: its schedule runs it again.")
        @OptionGroup var options: CatalogOptions
        @Argument(help: "The job's name.") var name: String

        func run() async throws {
            try await CatalogCommandRunner.update(JobDefinition.self, named: name, basedOn: nil, options) {
                (job: inout JobDefinition, _) throws(CatalogError) in job.enabled = true
            }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Switch a job off: its schedule no longer runs it (manual starts still do).")
        @OptionGroup var options: CatalogOptions
        @Argument(help: "The job's name.") var name: String

        func run() async throws {
            try await CatalogCommandRunner.update(JobDefinition.self, named: name, basedOn: nil, options) {
                (job: inout JobDefinition, _) throws(CatalogError) in job.enabled = false
            }
        }
    }

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make the catalog's jobs match a YAML file (one job per document): adds new jobs, updates changed ones.",
            discussion: "Fields a document leaves out take their defaults. The whole file is checked before anything is written: one bad job writes nothing.")
        @OptionGroup var options: CatalogOptions
        @Option(name: .customShort("f"), help: ArgumentHelp("The YAML file ('-' for standard input).", valueName: "file")) var file: String
        @Flag(name: .customLong("dry-run"), help: "Show what would change, change nothing.") var dryRun = false

        func run() async throws {
            let text: String
            if file == "-" {
                text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            } else {
                do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
                    throw ValidationError("cannot read '\(file)': \(error.localizedDescription)")
                }
            }
            let documents = try JobDocument.parse(text, file: file == "-" ? "standard input" : file)
            let plan = try await options.withCatalog { catalog -> [CatalogChange] in
                if dryRun { return try JobDocument.plan(documents, in: try await catalog.load(), defaultTimeZone: JobCommand.localTimeZone) }
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
                let id = state.id(of: JobDefinition.self, named: name)
                    ?? state.formerHolders[ObjectName.key(name)]
                guard let id else { return (state, []) }
                return (state, try await catalog.history(of: .job, id: id))
            }
            guard !events.isEmpty else {
                throw CatalogError(.notFound, "no job was ever named '\(name)': see 'tidemark job list'")
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

extension ViewOptions {
    static func parseMoment(_ text: String?) throws -> Date? {
        guard let text else { return nil }
        guard let date = parse(text) else {
            throw ValidationError("--as-of '\(text)' is not a time: write 2026-11-01, '2026-11-01 18:30' (local time) or 2026-11-01T18:30:00Z")
        }
        return date
    }
}
