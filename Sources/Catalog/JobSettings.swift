import Foundation

/// A job as people write it, on the command line or in a YAML file: names instead of ids,
/// schedules and sizes as text. Every field is optional so that `update` can carry only
/// what changes; `definition(...)` checks each field and resolves the names.
public struct JobSettings: Sendable, Equatable {
    public var name: String?
    public var description: String?
    public var server: String?
    public var objects: [String]?
    public var exclusions: [String]?
    public var repository: String?
    /// Proxy names; `["automatic"]` or an empty list for automatic selection.
    public var proxies: [String]?
    public var parallelProcessing: Bool?
    public var schedule: String?
    public var timeZone: String?
    /// `HH:MM-HH:MM`, or `none`.
    public var backupWindow: String?
    public var retention: String?
    public var retryCount: Int?
    public var retryWaitMinutes: Int?
    public var applicationAware: String?
    public var blockSize: String?
    public var compressionLevel: Int?
    public var enabled: Bool?
    public var indexGuestFiles: Bool?
    /// The backup job a copy job copies (a name); only when the job is made.
    public var copyOf: String?
    /// `immediate` (the default for a copy job) or `periodic`.
    public var copyMode: String?
    /// `weekly 4, monthly 12, yearly 3`, or `none`.
    public var gfs: String?

    public init() {}

    /// The job `definition` with these settings applied; with no base, a new job whose
    /// unset fields take their defaults (name, server, objects and repository are required).
    public func definition(base: JobDefinition?, in state: CatalogState, defaultTimeZone: String) throws(CatalogError) -> JobDefinition {
        var job: JobDefinition
        if let base {
            job = base
        } else {
            guard let name else { throw CatalogError(.invalidValue, "a new job needs a name") }
            if let copyOf { return try copyJob(named: name, of: copyOf, in: state, defaultTimeZone: defaultTimeZone) }
            guard let server else {
                throw CatalogError(
                    .invalidValue, "job '\(name)' needs the managed server its VMs live on: add --server NAME (see 'tidemark server list')")
            }
            guard let repository else {
                throw CatalogError(
                    .invalidValue, "job '\(name)' needs a repository: add --repository NAME (see 'tidemark repository list')")
            }
            guard objects != nil else {
                throw CatalogError(
                    .invalidValue, "job '\(name)' needs the objects to back up: add --object vm:NAME (or folder:, cluster:, host:, tag:)")
            }
            job = JobDefinition(
                name: name, server: try state.require(ManagedServer.self, named: server), objects: [],
                repository: try state.require(RepositoryDefinition.self, named: repository), timeZone: defaultTimeZone)
        }
        return try applied(to: job, in: state)
    }

    /// A new backup copy job: the source's server, no objects of its own, and (immediate, the
    /// default) a schedule that follows every session of the source.
    private func copyJob(
        named name: String, of sourceName: String, in state: CatalogState, defaultTimeZone: String
    )
        throws(CatalogError) -> JobDefinition
    {
        let source = try state.require(JobDefinition.self, named: sourceName)
        guard let sourceJob = state.jobs[source]?.definition else { throw CatalogError(.notFound, "there is no job '\(sourceName)'") }
        guard let repository else {
            throw CatalogError(
                .invalidValue,
                "copy job '\(name)' needs the repository to copy into: add --repository NAME (see 'tidemark repository list')")
        }
        guard objects == nil, exclusions == nil else {
            throw CatalogError(
                .invalidValue, "copy job '\(name)' copies every VM of '\(sourceJob.name)': leave --object and --exclude out")
        }
        if let server, try state.require(ManagedServer.self, named: server) != sourceJob.server {
            throw CatalogError(.invalidValue, "copy job '\(name)': its VMs are those of '\(sourceJob.name)': leave --server out")
        }
        // A schedule given with an immediate copy is left to validation, which explains.
        let mode = try BackupCopy.parseMode(copyMode ?? BackupCopy.Mode.immediate.rawValue)
        var job = JobDefinition(
            name: name, server: sourceJob.server, objects: [], repository: try state.require(RepositoryDefinition.self, named: repository),
            schedule: mode == .immediate ? .after(job: source) : .manual, timeZone: defaultTimeZone)
        job.copy = BackupCopy(source: source, mode: mode)
        job.blockSizeBytes = sourceJob.blockSizeBytes
        var rest = self
        rest.server = nil
        rest.copyMode = nil
        return try rest.applied(to: job, in: state)
    }

    /// These settings over `job`.
    private func applied(to base: JobDefinition, in state: CatalogState) throws(CatalogError) -> JobDefinition {
        var job = base
        if let copyOf, try state.require(JobDefinition.self, named: copyOf) != base.copy?.source {
            throw CatalogError(
                .invalidValue, "job '\(job.name)': whether a job copies, and what, is fixed when it is added: add a new copy job instead")
        }
        if let copyMode {
            guard var copy = job.copy else {
                throw CatalogError(.invalidValue, "job '\(job.name)' is a backup job: --mode is for copy jobs (add one with --copy-of)")
            }
            copy.mode = try BackupCopy.parseMode(copyMode)
            // Switching to immediate follows the source again; to periodic, a schedule must come.
            if copy.mode == .immediate && schedule == nil { job.schedule = .after(job: copy.source) }
            job.copy = copy
        }
        if let gfs {
            guard var copy = job.copy else {
                throw CatalogError(
                    .invalidValue, "job '\(job.name)' is a backup job: GFS retention is for copy jobs (add one with --copy-of)")
            }
            copy.gfs = ["none", ""].contains(gfs.lowercased()) ? nil : try GFSRetention(parsing: gfs)
            job.copy = copy
        }
        if let name { job.name = name }
        if let description { job.description = description }
        if let server { job.server = try state.require(ManagedServer.self, named: server) }
        if let repository { job.repository = try state.require(RepositoryDefinition.self, named: repository) }
        if let objects {
            job.objects = []
            for object in objects { job.objects.append(try ObjectSelector(parsing: object)) }
        }
        if let exclusions {
            job.exclusions = []
            for exclusion in exclusions { job.exclusions.append(try Exclusion(parsing: exclusion)) }
        }
        if let proxies {
            job.proxies = []
            if !(proxies.count == 1 && proxies[0].lowercased() == "automatic") {
                for proxy in proxies { job.proxies.append(try state.require(ProxyDefinition.self, named: proxy)) }
            }
        }
        if let parallelProcessing { job.parallelProcessing = parallelProcessing }
        if let schedule {
            job.schedule = try Schedule(parsing: schedule) { (name: String) throws(CatalogError) -> UUIDString in
                try state.require(JobDefinition.self, named: name)
            }
        }
        if let timeZone { job.timeZone = timeZone }
        if let backupWindow {
            job.backupWindow = ["none", ""].contains(backupWindow.lowercased()) ? nil : try TimeWindow(parsing: backupWindow)
        }
        if let retention { job.retention = try JobRetention(parsing: retention) }
        if retryCount != nil || retryWaitMinutes != nil {
            job.retry = RetryPolicy(count: retryCount ?? job.retry.count, waitMinutes: retryWaitMinutes ?? job.retry.waitMinutes)
        }
        if let applicationAware { job.applicationAware = try ApplicationAwareMode.parse(applicationAware) }
        if let blockSize { job.blockSizeBytes = try Self.parseBlockSize(blockSize) }
        if let compressionLevel { job.compressionLevel = compressionLevel }
        if let enabled { job.enabled = enabled }
        // Off is stored as absent, as definitions recorded before the setting have it.
        if let indexGuestFiles { job.indexGuestFiles = indexGuestFiles ? true : nil }
        return job
    }

    /// Every field of `job`, with names for ids: what `job export` writes.
    public init(_ job: JobDefinition, in state: CatalogState) {
        name = job.name
        description = job.description
        server = state.name(of: job.server)
        objects = job.objects.map(\.description)
        exclusions = job.exclusions.map(\.description)
        repository = state.name(of: job.repository)
        proxies = job.proxies.isEmpty ? ["automatic"] : job.proxies.map { state.name(of: $0) }
        parallelProcessing = job.parallelProcessing
        schedule = job.schedule.text { state.name(of: $0) }
        timeZone = job.timeZone
        backupWindow = job.backupWindow?.description ?? "none"
        retention = job.retention.description
        retryCount = job.retry.count
        retryWaitMinutes = job.retry.waitMinutes
        applicationAware = job.applicationAware.rawValue
        blockSize = Self.describeBlockSize(job.blockSizeBytes)
        compressionLevel = job.compressionLevel
        enabled = job.enabled
        indexGuestFiles = job.indexGuestFiles ?? false
        if let copy = job.copy {
            copyOf = state.name(of: copy.source)
            copyMode = copy.mode.rawValue
            gfs = copy.gfs?.description ?? "none"
            objects = nil
            exclusions = nil
        }
    }

    /// A field's value as documents and histories show it.
    public enum FieldValue: Sendable, Equatable, CustomStringConvertible {
        case text(String)
        case list([String])
        /// A number, a boolean or a flow mapping, written as is.
        case literal(String)

        public var description: String {
            switch self {
            case .text(let text): return text
            case .list(let items): return items.isEmpty ? "(none)" : items.joined(separator: ", ")
            case .literal(let literal): return literal
            }
        }
    }

    /// The fields that are set, keyed and ordered as in a job document.
    public var fields: [(key: String, value: FieldValue)] {
        var result: [(key: String, value: FieldValue)] = []
        func add(_ key: String, _ value: FieldValue?) { if let value { result.append((key, value)) } }
        add("name", name.map(FieldValue.text))
        add("description", description.map(FieldValue.text))
        add("server", server.map(FieldValue.text))
        add("objects", objects.map(FieldValue.list))
        add("exclusions", exclusions.map(FieldValue.list))
        add("repository", repository.map(FieldValue.text))
        add("proxies", proxies.map(FieldValue.list))
        add("parallel_processing", parallelProcessing.map { .literal(String($0)) })
        add("schedule", schedule.map(FieldValue.text))
        add("time_zone", timeZone.map(FieldValue.text))
        add("backup_window", backupWindow.map(FieldValue.text))
        add("retention", retention.map(FieldValue.text))
        if let count = retryCount, let wait = retryWaitMinutes {
            add("retry", .literal("{count: \(count), wait_minutes: \(wait)}"))
        }
        add("application_aware", applicationAware.map(FieldValue.text))
        add("block_size", blockSize.map(FieldValue.text))
        add("compression_level", compressionLevel.map { .literal(String($0)) })
        add("enabled", enabled.map { .literal(String($0)) })
        add("index_guest_files", indexGuestFiles.map { .literal(String($0)) })
        add("copy_of", copyOf.map(FieldValue.text))
        add("copy_mode", copyMode.map(FieldValue.text))
        add("gfs", gfs.map(FieldValue.text))
        return result
    }

    /// Reads `1M`, `256K`, `4MiB`.
    public static func parseBlockSize(_ text: String) throws(CatalogError) -> Int {
        let upper = text.uppercased().replacingOccurrences(of: "IB", with: "").replacingOccurrences(of: "B", with: "")
        let multiplier = upper.hasSuffix("M") ? 1 << 20 : upper.hasSuffix("K") ? 1 << 10 : 1
        guard let count = Int(multiplier == 1 ? upper : String(upper.dropLast())), count > 0, count <= JobDefinition.blockSizes.max()!,
            JobDefinition.blockSizes.contains(count * multiplier)
        else {
            throw CatalogError(.invalidValue, "block size '\(text)' is not offered: use 256K, 512K, 1M, 2M, 4M or 8M")
        }
        return count * multiplier
    }

    public static func describeBlockSize(_ bytes: Int) -> String {
        bytes >= 1 << 20 ? "\(bytes >> 20)M" : "\(bytes >> 10)K"
    }
}
