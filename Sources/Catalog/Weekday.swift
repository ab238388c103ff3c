/// A day of the week, Monday first as in ISO 8601 (and as administrators read a week).
public enum Weekday: Int, Sendable, Hashable, Codable, CaseIterable, Comparable, CustomStringConvertible {
    case monday = 1, tuesday, wednesday, thursday, friday, saturday, sunday

    public var description: String {
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][rawValue - 1]
    }

    /// The day's full name: `monday`.
    public var name: String { Self.names[rawValue - 1] }

    private static let names = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

    public static func < (lhs: Weekday, rhs: Weekday) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Reads `mon`, `Monday`, `MONDAY`.
    public init(parsing text: String) throws(CatalogError) {
        let key = text.lowercased()
        guard key.count >= 3, let index = Self.names.firstIndex(where: { $0.hasPrefix(key) }) else {
            throw CatalogError(.invalidValue, "'\(text)' is not a day of the week: use mon, tue, wed, thu, fri, sat or sun")
        }
        self = Weekday(rawValue: index + 1)!
    }

    /// Reads a set of days: `mon-fri`, `mon,wed,fri`, `weekdays`, `weekends`, `everyday`.
    public static func parseSet(_ text: String) throws(CatalogError) -> Set<Weekday> {
        switch text.lowercased() {
        case "everyday", "every-day", "daily", "all": return Set(allCases)
        case "weekdays", "workdays": return [.monday, .tuesday, .wednesday, .thursday, .friday]
        case "weekends", "weekend": return [.saturday, .sunday]
        default: break
        }
        var days = Set<Weekday>()
        for item in text.split(separator: ",") {
            let bounds = item.split(separator: "-")
            if bounds.count == 2 {
                let first = try Weekday(parsing: String(bounds[0])), last = try Weekday(parsing: String(bounds[1]))
                guard first <= last else {
                    throw CatalogError(
                        .invalidValue,
                        "the day range '\(item)' runs backwards: write it from the earlier day, such as mon-fri (a week starts on Monday)")
                }
                for raw in first.rawValue...last.rawValue { days.insert(Weekday(rawValue: raw)!) }
            } else {
                days.insert(try Weekday(parsing: String(item)))
            }
        }
        guard !days.isEmpty else {
            throw CatalogError(.invalidValue, "no days given: name at least one day, such as mon-fri")
        }
        return days
    }

    /// Reads a set of days written as several words, as people type them after `on`:
    /// `sun, wed`, `mon - fri`, `sat and sun`, `mon wed fri`.
    public static func parseSet(words: [String]) throws(CatalogError) -> Set<Weekday> {
        let pieces = words.filter { $0.lowercased() != "and" }
        var text = pieces.joined(separator: ",")
        for (spaced, joined) in [(",-,", "-"), (",-", "-"), ("-,", "-"), (",,", ",")] {
            text = text.replacingOccurrences(of: spaced, with: joined)
        }
        return try parseSet(text)
    }

    /// The shortest text `parseSet` reads back as the same set.
    public static func describe(_ days: Set<Weekday>) -> String {
        if days.count == 7 { return "everyday" }
        if days == [.monday, .tuesday, .wednesday, .thursday, .friday] { return "mon-fri" }
        if days == [.saturday, .sunday] { return "sat-sun" }
        return days.sorted().map(\.description).joined(separator: ",")
    }
}
