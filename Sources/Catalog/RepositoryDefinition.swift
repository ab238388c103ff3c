/// A backup repository: where restore points are written, and how much work it takes at once.
public struct RepositoryDefinition: CatalogDefinition {
    public static let kind = ObjectKind.repository

    public var name: String
    /// An absolute folder on the backup server (or a mount it sees); empty for a repository
    /// service on another host (``service``).
    public var path: String
    /// A repository service on another host (`tidemark repository serve`), in place of a
    /// folder; nil for a folder (the default, and what definitions written before the field
    /// existed decode to).
    public var service: RepositoryEndpoint?
    /// Tasks (VM disks) written at once across all sessions.
    public var maxConcurrentTasks: Int
    /// Below this share of free space the repository takes no new task.
    public var freeSpaceThresholdPercent: Int
    /// The site the repository stands in, for proxy proximity and throttling rules.
    public var site: String
    /// Scheduled health checks: restore points not verified for this many days are read and
    /// re-hashed again by `tidemark server` (oldest first). nil: no scheduled checks (the
    /// default, and what definitions written before the field existed decode to).
    public var verifyEveryDays: Int?
    /// Bytes of restore points one scheduled check may read; nil with `verifyEveryDays` set:
    /// `defaultVerifyBudgetBytes`.
    public var verifyBudgetBytes: Int64?

    /// 10 GiB: a run that a repository on spinning disks finishes in minutes.
    public static let defaultVerifyBudgetBytes: Int64 = 10 << 30

    public init(
        name: String, path: String, service: RepositoryEndpoint? = nil, maxConcurrentTasks: Int = 4, freeSpaceThresholdPercent: Int = 10,
        site: String = "default"
    ) {
        self.name = name
        self.path = path
        self.service = service
        self.maxConcurrentTasks = maxConcurrentTasks
        self.freeSpaceThresholdPercent = freeSpaceThresholdPercent
        self.site = site
    }

    /// Whether restore points go to a repository service on another host.
    public var isRemote: Bool { service != nil }

    public func validate(in catalog: CatalogState) throws(CatalogError) {
        let subject = "repository '\(name)'"
        if let service {
            guard path.isEmpty else {
                throw .invalid("\(subject)", "a repository is a folder (--path) or a repository service (--url), not both")
            }
            try service.validate(subject: subject)
        } else {
            try validatePath(subject: subject)
        }
        try Limits.tasks(maxConcurrentTasks, subject: subject)
        guard (0...99).contains(freeSpaceThresholdPercent) else {
            throw .invalid("\(subject) free-space threshold", "\(freeSpaceThresholdPercent)% is outside 0-99%: a typical value is 10%")
        }
        try Limits.site(site, subject: subject)
        if let verifyEveryDays, !(1...3_650).contains(verifyEveryDays) {
            throw .invalid("\(subject) health-check interval", "\(verifyEveryDays) days is outside 1-3650 days: a typical value is 7d")
        }
        if let verifyBudgetBytes, !((1 << 20)...(1 << 50)).contains(verifyBudgetBytes) {
            throw .invalid("\(subject) health-check budget", "\(verifyBudgetBytes) bytes is outside 1 MiB-1 PiB: a typical value is 10GiB")
        }
    }

    private func validatePath(subject: String) throws(CatalogError) {
        guard path.hasPrefix("/") else {
            throw .invalid("\(subject) path", "'\(path)' is not absolute: give the full path, such as /srv/backups")
        }
        let parts = path.split(separator: "/")
        if parts.contains(where: { $0 == "." || $0 == ".." }) {
            throw .invalid("\(subject) path", "'\(path)' has '.' or '..' parts: give the folder's own path, such as /srv/backups")
        }
        if parts.isEmpty || Self.systemFolders.contains(String(parts[0])) {
            throw .invalid(
                "\(subject) path",
                "'\(path)' is the root or a system folder: a repository writes thousands of files, so give a folder of its own, such as /srv/backups"
            )
        }
    }

    public var references: [(kind: ObjectKind, id: UUIDString)] { [] }

    /// Top-level folders a repository never lives in (or under): the operating system's own.
    static let systemFolders: Set<String> = ["bin", "boot", "dev", "etc", "lib", "lib32", "lib64", "proc", "run", "sbin", "sys", "usr"]
}

/// Bounds shared by several kinds of definition.
enum Limits {
    static let maximumTasks = 256

    static func tasks(_ count: Int, subject: String) throws(CatalogError) {
        guard (1...maximumTasks).contains(count) else {
            throw .invalid("\(subject) maximum concurrent tasks", "\(count) is outside 1-\(maximumTasks)")
        }
    }

    static func site(_ site: String, subject: String) throws(CatalogError) {
        guard !site.isEmpty, site.count <= 100, !site.contains(",") else {
            throw .invalid("\(subject) site", "'\(site)' is not a site name: use a short name without commas, such as 'hq'")
        }
    }
}
