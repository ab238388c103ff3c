import Foundation

/// A bandwidth limit between a set of sources and a set of target repositories.
///
/// Sessions under one rule share its rate equally; a rule with a window applies only then.
public struct ThrottlingRule: CatalogDefinition {
    public static let kind = ObjectKind.throttle

    public var name: String
    /// Sites whose proxies the rule covers; empty with no proxies means every source.
    public var sourceSites: [String]
    /// Proxies (ids) the rule covers.
    public var sourceProxies: [UUIDString]
    /// Target repositories (ids); empty means every repository.
    public var targetRepositories: [UUIDString]
    public var bytesPerSecond: Int64
    public var window: TimeWindow?

    public init(
        name: String, sourceSites: [String] = [], sourceProxies: [UUIDString] = [], targetRepositories: [UUIDString] = [],
        bytesPerSecond: Int64, window: TimeWindow? = nil
    ) {
        self.name = name
        self.sourceSites = sourceSites
        self.sourceProxies = sourceProxies
        self.targetRepositories = targetRepositories
        self.bytesPerSecond = bytesPerSecond
        self.window = window
    }

    public func validate(in catalog: CatalogState) throws(CatalogError) {
        let subject = "throttling rule '\(name)'"
        guard bytesPerSecond >= 125_000 else {
            throw .invalid("\(subject) rate", "\(Rate.describe(bytesPerSecond)) is below the smallest rate, 1 Mbit/s")
        }
        for site in sourceSites { try Limits.site(site, subject: subject) }
        for proxy in sourceProxies where catalog.proxies[proxy] == nil {
            throw CatalogError(.notFound, "\(subject): the source proxy \(catalog.label(.proxy, proxy)) does not exist")
        }
        for repository in targetRepositories where catalog.repositories[repository] == nil {
            throw CatalogError(.notFound, "\(subject): the target repository \(catalog.label(.repository, repository)) does not exist")
        }
    }

    /// Whether the rule covers traffic between a source (a proxy's site and id; a restore has
    /// the repository's site and no proxy) and a repository, at this minute of the day.
    /// Restores are covered by the same rules as backups: the link between a site and a
    /// repository is throttled whichever way the data goes.
    public func covers(site: String, proxy: UUIDString?, repository: UUIDString, minuteOfDay minute: Int) -> Bool {
        let anySource = sourceSites.isEmpty && sourceProxies.isEmpty
        let source = anySource || sourceSites.contains(site) || proxy.map(sourceProxies.contains) == true
        let target = targetRepositories.isEmpty || targetRepositories.contains(repository)
        return source && target && (window?.contains(minuteOfDay: minute) ?? true)
    }

    /// The minute of the day `date` is in `timeZone`, as rule windows are written.
    public static func minuteOfDay(_ date: Date, in timeZone: TimeZone) -> Int {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let parts = calendar.dateComponents([.hour, .minute], from: date)
        return (parts.hour ?? 0) * 60 + (parts.minute ?? 0)
    }

    public var references: [(kind: ObjectKind, id: UUIDString)] {
        sourceProxies.map { (ObjectKind.proxy, $0) } + targetRepositories.map { (ObjectKind.repository, $0) }
    }
}

/// Bandwidth as administrators write it: `100MB/s`, `800Mbit/s`, `1Gbps`.
public enum Rate {
    /// Units as written, case and all: `Mb/s` could mean megabits or megabytes, so only
    /// unambiguous spellings are read (bytes with `B`, bits with `bit` or `bps`).
    static let units: [(String, Double)] = [
        ("GB/s", 1e9), ("MB/s", 1e6), ("KB/s", 1e3), ("kB/s", 1e3), ("GiB/s", 1_073_741_824), ("MiB/s", 1_048_576), ("KiB/s", 1_024),
        ("Gbit/s", 1.25e8), ("Mbit/s", 1.25e5), ("Kbit/s", 125), ("kbit/s", 125), ("Gbps", 1.25e8), ("Mbps", 1.25e5), ("Kbps", 125),
        ("kbps", 125),
    ]

    /// The fastest rate a rule may name: 1 TB/s.
    public static let maximum: Int64 = 1_000_000_000_000

    public static func parse(_ text: String) throws(CatalogError) -> Int64 {
        let compact = text.replacingOccurrences(of: " ", with: "")
        // Longest suffix first, so "MiB/s" is not read as "B/s" of something.
        for (suffix, factor) in units.sorted(by: { $0.0.count > $1.0.count }) where compact.hasSuffix(suffix) {
            let number = compact.dropLast(suffix.count)
            guard let value = Double(number), value > 0, value.isFinite else {
                throw CatalogError(.invalidValue, "rate '\(text)': '\(number)' is not a positive number")
            }
            guard value * factor <= Double(maximum) else {
                throw CatalogError(.invalidValue, "rate '\(text)' is above the largest rate a rule may name, 1TB/s")
            }
            return Int64((value * factor).rounded())
        }
        throw CatalogError(
            .invalidValue,
            "rate '\(text)' has no unit Tidemark reads unambiguously: write it as 100MB/s (bytes), 800Mbit/s or 1Gbps (bits)")
    }

    /// A rate in the unit network people read: Mbit/s.
    public static func describe(_ bytesPerSecond: Int64) -> String {
        let megabits = Double(bytesPerSecond) * 8 / 1e6
        if megabits >= 1_000, (megabits / 1_000).rounded() == megabits / 1_000 { return "\(Int(megabits / 1_000))Gbit/s" }
        if megabits.rounded() == megabits { return "\(Int(megabits))Mbit/s" }
        return "\(bytesPerSecond * 8 / 1_000)Kbit/s"
    }
}
