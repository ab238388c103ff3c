import Foundation

/// What makes a job a backup copy job: it copies the restore points of another job (its
/// source, a backup job) into its own repository, typically offsite (3-2-1), instead of
/// backing VMs up. Its restore points are its own, with their own retention and GFS flags.
public struct BackupCopy: Sendable, Hashable, Codable {
    /// When a copy runs.
    public enum Mode: String, Sendable, Codable, CaseIterable {
        /// After every session of the source job (its schedule is `after SOURCE`): each new
        /// restore point is copied as soon as it exists.
        case immediate
        /// On the copy job's own schedule: the newest point of each VM not copied yet.
        case periodic
    }

    /// The backup job whose restore points are copied.
    public var source: UUIDString
    public var mode: Mode
    /// Weekly, monthly and yearly points kept beyond the job's retention; nil keeps none.
    public var gfs: GFSRetention?

    public init(source: UUIDString, mode: Mode, gfs: GFSRetention? = nil) {
        self.source = source
        self.mode = mode
        self.gfs = gfs
    }

    public static func parseMode(_ text: String) throws(CatalogError) -> Mode {
        guard let mode = Mode(rawValue: text.lowercased()) else {
            throw CatalogError(.invalidValue, "copy mode '\(text)' is not one of immediate, periodic")
        }
        return mode
    }
}

/// Grandfather-father-son retention: the first restore point of each week, month and year is
/// flagged when it is recorded, and the newest `weekly` weekly points (and `monthly`,
/// `yearly`) are kept whatever the job's own retention says.
public struct GFSRetention: Sendable, Hashable, Codable, CustomStringConvertible {
    public var weekly: Int
    public var monthly: Int
    public var yearly: Int

    public static let limits: [(name: String, maximum: Int)] = [("weekly", 520), ("monthly", 240), ("yearly", 100)]

    public init(weekly: Int = 0, monthly: Int = 0, yearly: Int = 0) {
        self.weekly = weekly
        self.monthly = monthly
        self.yearly = yearly
    }

    /// Reads `weekly 4, monthly 12, yearly 3` (any of the three, in any order); `none` keeps none.
    public init(parsing text: String) throws(CatalogError) {
        self.init()
        let example = "write it as 'weekly 4, monthly 12, yearly 3' (any of the three)"
        let parts = text.lowercased().split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        guard !parts.isEmpty, !parts.contains(where: \.isEmpty) else { throw CatalogError(.invalidValue, "GFS '\(text)': \(example)") }
        var seen = Set<String>()
        for part in parts {
            let words = part.split(separator: " ").map(String.init)
            guard words.count == 2, let count = Int(words[1]) else {
                throw CatalogError(.invalidValue, "GFS '\(text)': '\(part)' is not a period and a count; \(example)")
            }
            guard let limit = Self.limits.first(where: { $0.name == words[0] }) else {
                let hint = Spelling.nearest(to: words[0], among: Self.limits.map(\.name)).map { " (did you mean '\($0)'?)" } ?? ""
                throw CatalogError(.invalidValue, "GFS '\(text)': '\(words[0])' is not a period\(hint): use weekly, monthly or yearly")
            }
            guard seen.insert(limit.name).inserted else {
                throw CatalogError(.invalidValue, "GFS '\(text)': '\(limit.name)' is given twice")
            }
            guard (1...limit.maximum).contains(count) else {
                throw CatalogError(.invalidValue, "GFS '\(text)': \(limit.name) \(count) is outside 1 to \(limit.maximum)")
            }
            switch limit.name {
            case "weekly": weekly = count
            case "monthly": monthly = count
            default: yearly = count
            }
        }
    }

    /// How many points of each period are kept, the periods with none left out.
    public var counts: [(period: GFSPeriod, keep: Int)] {
        [(GFSPeriod.weekly, weekly), (.monthly, monthly), (.yearly, yearly)].filter { $0.1 > 0 }
    }

    public var description: String {
        counts.map { "\($0.period.rawValue) \($0.keep)" }.joined(separator: ", ")
    }
}

/// The periods a GFS point can be the first of.
public enum GFSPeriod: String, Sendable, Codable, CaseIterable, Comparable {
    case weekly, monthly, yearly

    public static func < (a: GFSPeriod, b: GFSPeriod) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// The period `date` falls in, as the job's time zone sees it: `2026-W49`, `2026-12`, `2026`.
    public func key(of date: Date, in timeZone: TimeZone) -> String {
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = timeZone
        switch self {
        case .weekly:
            let parts = calendar.dateComponents([.yearForWeekOfYear, .weekOfYear], from: date)
            return String(format: "%04d-W%02d", parts.yearForWeekOfYear ?? 0, parts.weekOfYear ?? 0)
        case .monthly:
            let parts = calendar.dateComponents([.year, .month], from: date)
            return String(format: "%04d-%02d", parts.year ?? 0, parts.month ?? 0)
        case .yearly:
            return String(format: "%04d", calendar.component(.year, from: date))
        }
    }
}
