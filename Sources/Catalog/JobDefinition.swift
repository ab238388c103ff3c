import Foundation

/// A backup job: what to back up, where to, with which proxies, when, and how long to keep it.
///
/// References to other objects are ids, so renaming a repository or a proxy never breaks a
/// job; people and definition files use names (`JobDocument`).
public struct JobDefinition: CatalogDefinition {
    public static let kind = ObjectKind.job

    public var name: String
    public var description: String
    /// The managed server the objects live on.
    public var server: UUIDString
    /// What to back up, processed in this order.
    public var objects: [ObjectSelector]
    public var exclusions: [Exclusion]
    public var repository: UUIDString
    /// The proxies to choose from; empty means automatic selection among all proxies.
    public var proxies: [UUIDString]
    /// Several VMs (or disks) at once within the task limits, or one after another.
    public var parallelProcessing: Bool
    public var schedule: Schedule
    /// The IANA time zone the schedule's times are in.
    public var timeZone: String
    /// Past the window's end, data transport stops and the session ends.
    public var backupWindow: TimeWindow?
    public var retention: JobRetention
    public var retry: RetryPolicy
    public var applicationAware: ApplicationAwareMode
    public var blockSizeBytes: Int
    /// zstd level; 0 stores blocks uncompressed.
    public var compressionLevel: Int
    public var enabled: Bool
    /// After each backup, index the guest files of the new restore points (ext2/3/4 file
    /// systems read from the chunks) for `files find` and `reporting.guest_files`. Absent in
    /// definitions recorded before the setting existed, and when off: nil (never false, so
    /// one job has one definition).
    public var indexGuestFiles: Bool?
    /// Set for a backup copy job: it copies another job's restore points into `repository`
    /// (its objects are empty: it copies every VM of the source job). Nil for a backup job.
    public var copy: BackupCopy?

    public init(
        name: String, description: String = "", server: UUIDString, objects: [ObjectSelector], exclusions: [Exclusion] = [],
        repository: UUIDString, proxies: [UUIDString] = [], parallelProcessing: Bool = true, schedule: Schedule = .manual,
        timeZone: String = "UTC", backupWindow: TimeWindow? = nil, retention: JobRetention = .default,
        retry: RetryPolicy = .default, applicationAware: ApplicationAwareMode = .off, blockSizeBytes: Int = 1 << 20,
        compressionLevel: Int = 3, enabled: Bool = true
    ) {
        self.name = name
        self.description = description
        self.server = server
        self.objects = objects
        self.exclusions = exclusions
        self.repository = repository
        self.proxies = proxies
        self.parallelProcessing = parallelProcessing
        self.schedule = schedule
        self.timeZone = timeZone
        self.backupWindow = backupWindow
        self.retention = retention
        self.retry = retry
        self.applicationAware = applicationAware
        self.blockSizeBytes = blockSizeBytes
        self.compressionLevel = compressionLevel
        self.enabled = enabled
    }

    public static let blockSizes = [256 << 10, 512 << 10, 1 << 20, 2 << 20, 4 << 20, 8 << 20]
    public static let compressionLevels = 0...19

    public func validate(in catalog: CatalogState) throws(CatalogError) {
        let subject = "job '\(name)'"
        guard description.count <= 1_000 else {
            throw .invalid("\(subject) description", "\(description.count) characters: keep it under 1,000")
        }
        guard catalog.servers[server] != nil else {
            throw CatalogError(
                .notFound, "\(subject): the managed server \(catalog.label(.server, server)) does not exist: see 'tidemark server list'")
        }
        guard catalog.repositories[repository] != nil else {
            throw CatalogError(
                .notFound,
                "\(subject): the repository \(catalog.label(.repository, repository)) does not exist: see 'tidemark repository list'")
        }
        for proxy in proxies where catalog.proxies[proxy] == nil {
            throw CatalogError(.notFound, "\(subject): the proxy \(catalog.label(.proxy, proxy)) does not exist: see 'tidemark proxy list'")
        }
        guard Set(proxies).count == proxies.count else {
            throw .invalid("\(subject) proxies", "a proxy is listed twice")
        }
        if let copy {
            try validateCopy(copy, subject: subject, in: catalog)
        } else if objects.isEmpty {
            throw .invalid("\(subject) objects", "none given: add at least one VM, folder, cluster, host or tag, such as vm:web-01")
        }
        guard Set(objects).count == objects.count else {
            throw .invalid("\(subject) objects", "an object is listed twice")
        }
        guard TimeZone(identifier: timeZone) != nil else {
            throw .invalid("\(subject) time zone", "'\(timeZone)' is not a time zone: use an IANA name such as Europe/Berlin or UTC")
        }
        try retention.validate(subject: subject)
        try retry.validate(subject: subject)
        guard Self.blockSizes.contains(blockSizeBytes) else {
            throw .invalid("\(subject) block size", "\(blockSizeBytes) bytes is not offered: use 256K, 512K, 1M, 2M, 4M or 8M")
        }
        guard Self.compressionLevels.contains(compressionLevel) else {
            throw .invalid("\(subject) compression level", "\(compressionLevel) is outside 0 (none) to 19")
        }
        if case .after(let predecessor) = schedule, catalog.jobs[predecessor] == nil {
            throw CatalogError(.notFound, "\(subject): the job to follow, \(catalog.label(.job, predecessor)), does not exist")
        }
    }

    public var references: [(kind: ObjectKind, id: UUIDString)] {
        var result: [(kind: ObjectKind, id: UUIDString)] = [(.server, server), (.repository, repository)]
        result += proxies.map { (ObjectKind.proxy, $0) }
        if let predecessor = schedule.predecessor { result.append((.job, predecessor)) }
        if let source = copy?.source, source != schedule.predecessor { result.append((.job, source)) }
        return result
    }

    /// A copy job copies a backup job's points into another repository; immediate copies
    /// follow every session of the source, periodic ones keep a schedule of their own.
    private func validateCopy(_ copy: BackupCopy, subject: String, in catalog: CatalogState) throws(CatalogError) {
        guard let source = catalog.jobs[copy.source]?.definition else {
            throw CatalogError(.notFound, "\(subject): the job to copy, \(catalog.label(.job, copy.source)), does not exist")
        }
        guard source.copy == nil else {
            throw .invalid("\(subject) copy of", "'\(source.name)' is a copy job itself: copy the backup job it copies")
        }
        guard objects.isEmpty, exclusions.isEmpty else {
            throw .invalid("\(subject) objects", "a copy job copies every VM of '\(source.name)': leave its objects and exclusions out")
        }
        guard repository != source.repository else {
            throw .invalid(
                "\(subject) repository",
                "it is the repository '\(source.name)' backs up to: a copy there is no second copy; name another (see 'tidemark repository list')"
            )
        }
        switch copy.mode {
        case .immediate:
            guard schedule == .after(job: copy.source) else {
                throw .invalid(
                    "\(subject) schedule",
                    "an immediate copy runs after every session of '\(source.name)': leave the schedule out, or use --mode periodic")
            }
        case .periodic:
            guard schedule != .after(job: copy.source) else {
                throw .invalid("\(subject) schedule", "a periodic copy has a schedule of its own: give one, or use --mode immediate")
            }
        }
    }
}

/// One entry of a job's object list: a VM, or a container that expands to VMs when the job runs.
public struct ObjectSelector: Sendable, Hashable, TextRepresentable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case vm, folder, cluster, host, tag, datacenter
    }

    public let kind: Kind
    /// A name (or inventory path for folders) or a managed object id.
    public let value: String

    public init(kind: Kind, value: String) throws(CatalogError) {
        guard !value.isEmpty, value.trimmingCharacters(in: .whitespaces) == value else {
            throw CatalogError(
                .invalidValue, "the \(kind.rawValue) in '\(kind.rawValue):\(value)' has no name: write it as \(kind.rawValue):NAME")
        }
        self.kind = kind
        self.value = value
    }

    /// Reads `vm:web-01`, `folder:/DC1/vm/Production`, `tag:gold`.
    public init(parsing text: String) throws(CatalogError) {
        guard let colon = text.firstIndex(of: ":"), let kind = Kind(rawValue: text[..<colon].lowercased()) else {
            throw CatalogError(
                .invalidValue,
                "'\(text)' names no object kind: write vm:NAME, folder:PATH, cluster:NAME, host:NAME, tag:NAME or datacenter:NAME")
        }
        try self.init(kind: kind, value: String(text[text.index(after: colon)...]))
    }

    public var description: String { "\(kind.rawValue):\(value)" }

}

/// A VM, or one disk of a VM, left out of a job.
public struct Exclusion: Sendable, Hashable, TextRepresentable {
    public let vm: String
    /// The disk's key (2000, 2001...); nil excludes the whole VM.
    public let diskKey: Int?

    public init(vm: String, diskKey: Int? = nil) {
        self.vm = vm
        self.diskKey = diskKey
    }

    /// Reads `vm:test-01` or `disk:db-01/2001`.
    public init(parsing text: String) throws(CatalogError) {
        if text.lowercased().hasPrefix("vm:"), text.count > 3 {
            self.init(vm: String(text.dropFirst(3)))
        } else if text.lowercased().hasPrefix("disk:"), let slash = text.lastIndex(of: "/"),
            let key = Int(text[text.index(after: slash)...]), key >= 0, slash > text.index(text.startIndex, offsetBy: 5)
        {
            self.init(vm: String(text[text.index(text.startIndex, offsetBy: 5)..<slash]), diskKey: key)
        } else {
            throw CatalogError(
                .invalidValue, "'\(text)' is not an exclusion: write vm:NAME or disk:VM-NAME/DISK-KEY, such as disk:db-01/2001")
        }
    }

    public var description: String { diskKey.map { "disk:\(vm)/\($0)" } ?? "vm:\(vm)" }

}

/// How long restore points are kept.
public struct JobRetention: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Unit: String, Sendable, Codable {
        case restorePoints = "restore-points"
        case days
    }

    public let count: Int
    public let unit: Unit

    public static let `default` = JobRetention(count: 7, unit: .restorePoints)
    /// Fewer restore points than this leaves no room for a failed chain to be noticed.
    public static let minimumRestorePoints = 3

    public init(count: Int, unit: Unit) {
        self.count = count
        self.unit = unit
    }

    /// Reads `7 restore points`, `3 restore point`, `14 days`, `1 day`, `7` (restore points).
    public init(parsing text: String) throws(CatalogError) {
        let words = text.lowercased().split(separator: " ")
        guard let first = words.first, let count = Int(first) else {
            throw CatalogError(.invalidValue, "retention '\(text)': write it as '7 restore points' or '14 days'")
        }
        let rest = words.dropFirst().joined(separator: " ")
        switch rest {
        case "", "restore points", "restore point", "restore-points", "restore-point", "points", "point":
            self.init(count: count, unit: .restorePoints)
        case "days", "day": self.init(count: count, unit: .days)
        default:
            let hint = Spelling.nearest(to: rest, among: ["restore points", "days"]).map { " (did you mean '\($0)'?)" } ?? ""
            throw CatalogError(.invalidValue, "retention '\(text)': '\(rest)' is not a unit\(hint): use 'restore points' or 'days'")
        }
    }

    func validate(subject: String) throws(CatalogError) {
        switch unit {
        case .restorePoints:
            guard count >= Self.minimumRestorePoints else {
                throw .invalid("\(subject) retention", "\(count) restore points is below the minimum of \(Self.minimumRestorePoints)")
            }
            guard count <= 999 else { throw .invalid("\(subject) retention", "\(count) restore points is above the maximum of 999") }
        case .days:
            guard count >= 1 else { throw .invalid("\(subject) retention", "\(count) days is below the minimum of 1 day") }
            guard count <= 3_650 else { throw .invalid("\(subject) retention", "\(count) days is above the maximum of 3,650") }
        }
    }

    public var description: String {
        unit == .days ? "\(count) day\(count == 1 ? "" : "s")" : "\(count) restore point\(count == 1 ? "" : "s")"
    }
}

/// Retries of failed VMs inside the same session.
public struct RetryPolicy: Sendable, Hashable, Codable {
    public let count: Int
    public let waitMinutes: Int

    public static let `default` = RetryPolicy(count: 3, waitMinutes: 10)

    public init(count: Int, waitMinutes: Int) {
        self.count = count
        self.waitMinutes = waitMinutes
    }

    func validate(subject: String) throws(CatalogError) {
        guard (0...10).contains(count) else { throw .invalid("\(subject) retry count", "\(count) is outside 0-10") }
        guard (0...1_440).contains(waitMinutes) else {
            throw .invalid("\(subject) retry wait", "\(waitMinutes) minutes is outside 0-1,440 (a day)")
        }
    }
}

/// Application-aware processing (quiescing applications before the snapshot).
public enum ApplicationAwareMode: String, Sendable, Codable, CaseIterable {
    /// Fail the VM when the guest's applications cannot be quiesced.
    case requireSuccess = "require-success"
    /// Fall back to a crash-consistent snapshot.
    case ignoreFailures = "ignore-failures"
    case off

    public static func parse(_ text: String) throws(CatalogError) -> ApplicationAwareMode {
        guard let mode = ApplicationAwareMode(rawValue: text.lowercased()) else {
            throw CatalogError(.invalidValue, "application-aware mode '\(text)' is not one of require-success, ignore-failures, off")
        }
        return mode
    }
}
