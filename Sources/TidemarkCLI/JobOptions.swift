import ArgumentParser
import Catalog

/// Every job setting as an option; `add` requires some, `update` changes only those given.
struct JobOptions: DefinitionOptions {
    @Option(help: "What the job is for.") var description: String?
    @Option(help: "The managed server the VMs live on.") var server: String?
    @Option(
        name: .customLong("object"),
        help: ArgumentHelp(
            "What to back up, in order: vm:NAME, folder:PATH, cluster:NAME, host:NAME, tag:NAME (repeat).", valueName: "kind:name"))
    var objects: [String] = []
    @Option(name: .customLong("exclude"), help: ArgumentHelp("Leave out vm:NAME or disk:VM/KEY (repeat).", valueName: "exclusion"))
    var exclusions: [String] = []
    @Option(help: "The target repository.") var repository: String?
    @Option(name: .customLong("proxy"), help: ArgumentHelp("A proxy to use (repeat), or 'automatic' (the default).", valueName: "name"))
    var proxies: [String] = []
    @Option(
        name: .customLong("parallel"),
        help: ArgumentHelp("Process VMs and disks in parallel within the task limits: yes or no (default yes).", valueName: "yes|no"))
    var parallel: String?
    @Option(
        name: .customLong("index-guest-files"),
        help: ArgumentHelp(
            "After each backup, index the guest files of the new restore points (ext2/3/4) for 'files find' and reporting.guest_files: yes or no (default no).",
            valueName: "yes|no"))
    var indexGuestFiles: String?
    @Option(
        help: ArgumentHelp(
            "manual | daily at HH:MM[,HH:MM] [on mon-fri] | weekly on sun[,wed] at HH:MM | monthly on day N|last at HH:MM | monthly on the first..fourth|last DAY at HH:MM | every N minutes|hours | continuously | after JOB (times as 22:00 or 10pm)",
            valueName: "schedule"))
    var schedule: String?
    @Option(name: .customLong("time-zone"), help: "The schedule's IANA time zone (default: this machine's).") var timeZone: String?
    @Option(
        name: .customLong("backup-window"),
        help: ArgumentHelp("Stop transport outside HH:MM-HH:MM ('none': no window).", valueName: "window"))
    var backupWindow: String?
    @Option(help: ArgumentHelp("'7 restore points' (the default, at least 3) or '14 days' (at least '1 day').", valueName: "retention"))
    var retention: String?
    @Option(name: .customLong("retry-count"), help: "Retries of failed VMs inside the session (default 3).") var retryCount: Int?
    @Option(name: .customLong("retry-wait"), help: ArgumentHelp("Minutes between retries (default 10).", valueName: "minutes"))
    var retryWait: Int?
    @Option(name: .customLong("application-aware"), help: "require-success, ignore-failures or off (the default).") var applicationAware:
        String?
    @Option(name: .customLong("block-size"), help: "256K, 512K, 1M (the default), 2M, 4M or 8M.") var blockSize: String?
    @Option(name: .customLong("compression-level"), help: "zstd level 0 (none) to 19 (default 3).") var compressionLevel: Int?
    @Option(help: ArgumentHelp("Whether its schedule runs it: yes (the default) or no.", valueName: "yes|no")) var enabled: String?
    @Option(
        name: .customLong("copy-of"),
        help: ArgumentHelp(
            "Make a backup copy job: copy the restore points of this backup job into --repository (only when adding).", valueName: "job"))
    var copyOf: String?
    @Option(
        help: ArgumentHelp(
            "A copy job's mode: immediate (after every session of the job it copies; the default) or periodic (on --schedule).",
            valueName: "immediate|periodic"))
    var mode: String?
    @Option(
        help: ArgumentHelp(
            "A copy job's GFS retention: the first point of each week, month, year kept, such as 'weekly 4, monthly 12, yearly 3' ('none': off).",
            valueName: "gfs"))
    var gfs: String?

    var missingForAdd: String? { nil }

    func makeNew(named name: String, in state: CatalogState) throws(CatalogError) -> JobDefinition {
        try settings(name: name).definition(base: nil, in: state, defaultTimeZone: JobCommand.localTimeZone)
    }

    func apply(to job: inout JobDefinition, in state: CatalogState) throws(CatalogError) {
        job = try settings(name: nil).definition(base: job, in: state, defaultTimeZone: JobCommand.localTimeZone)
    }

    static func yesNo(_ text: String, option: String) throws(CatalogError) -> Bool {
        switch text.lowercased() {
        case "yes", "true", "on": return true
        case "no", "false", "off": return false
        default: throw CatalogError(.invalidValue, "--\(option) '\(text)': say yes or no")
        }
    }

    func settings(name: String?) throws(CatalogError) -> JobSettings {
        var settings = JobSettings()
        settings.name = name
        settings.description = description
        settings.server = server
        settings.objects = objects.isEmpty ? nil : objects
        settings.exclusions = exclusions.isEmpty ? nil : exclusions
        settings.repository = repository
        settings.proxies = proxies.isEmpty ? nil : proxies
        if let parallel { settings.parallelProcessing = try Self.yesNo(parallel, option: "parallel") }
        if let indexGuestFiles { settings.indexGuestFiles = try Self.yesNo(indexGuestFiles, option: "index-guest-files") }
        if let enabled { settings.enabled = try Self.yesNo(enabled, option: "enabled") }
        settings.schedule = schedule
        settings.timeZone = timeZone
        settings.backupWindow = backupWindow
        settings.retention = retention
        settings.retryCount = retryCount
        settings.retryWaitMinutes = retryWait
        settings.applicationAware = applicationAware
        settings.blockSize = blockSize
        settings.compressionLevel = compressionLevel
        settings.copyOf = copyOf
        settings.copyMode = mode
        settings.gfs = gfs
        return settings
    }
}
