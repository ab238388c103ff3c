/// A backup repository: where restore points are written, and how much work it takes at once.
public struct RepositoryDefinition: CatalogDefinition {
    public static let kind = ObjectKind.repository

    public var name: String
    /// An absolute folder on the backup server (or a mount it sees).
    public var path: String
    /// Tasks (VM disks) written at once across all sessions.
    public var maxConcurrentTasks: Int
    /// Below this share of free space the repository takes no new task.
    public var freeSpaceThresholdPercent: Int
    /// The site the repository stands in, for proxy proximity and throttling rules.
    public var site: String

    public init(name: String, path: String, maxConcurrentTasks: Int = 4, freeSpaceThresholdPercent: Int = 10, site: String = "default") {
        self.name = name
        self.path = path
        self.maxConcurrentTasks = maxConcurrentTasks
        self.freeSpaceThresholdPercent = freeSpaceThresholdPercent
        self.site = site
    }

    public func validate(in catalog: CatalogState) throws(CatalogError) {
        let subject = "repository '\(name)'"
        guard path.hasPrefix("/") else {
            throw .invalid("\(subject) path", "'\(path)' is not absolute: give the full path, such as /srv/backups")
        }
        try Limits.tasks(maxConcurrentTasks, subject: subject)
        guard (0...99).contains(freeSpaceThresholdPercent) else {
            throw .invalid("\(subject) free-space threshold", "\(freeSpaceThresholdPercent)% is outside 0-99%: a typical value is 10%")
        }
        try Limits.site(site, subject: subject)
    }

    public var references: [(kind: ObjectKind, id: UUIDString)] { [] }
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
