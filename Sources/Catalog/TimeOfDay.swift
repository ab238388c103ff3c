import Foundation

/// A wall-clock time in a job's time zone, to the minute.
public struct TimeOfDay: Sendable, Hashable, Comparable, TextRepresentable {
    public let hour: Int
    public let minute: Int

    public init(hour: Int, minute: Int) throws(CatalogError) {
        guard (0...23).contains(hour) else {
            throw CatalogError(.invalidValue, "hour \(hour) is not on a clock: use 00 to 23 (midnight is 00:00)")
        }
        guard (0...59).contains(minute) else {
            throw CatalogError(.invalidValue, "minute \(minute) is not on a clock: use 00 to 59")
        }
        self.hour = hour
        self.minute = minute
    }

    /// Reads `22:00`, `7:30` (24-hour clock) and `10pm`, `10:30pm`, `10 pm`, `12am` (12-hour clock).
    public init(parsing text: String) throws(CatalogError) {
        let compact = text.lowercased().filter { $0 != " " }
        var clock = Substring(compact)
        var afternoon: Bool?
        if clock.hasSuffix("am") || clock.hasSuffix("pm") {
            afternoon = clock.hasSuffix("pm")
            clock = clock.dropLast(2)
        }
        let parts = clock.split(separator: ":", omittingEmptySubsequences: false)
        let numbers = parts.map { part in part.allSatisfy(\.isASCII) ? Int(part) : nil }
        guard let afternoon else {
            guard parts.count == 2, let hour = numbers[0], let minute = numbers[1], parts[1].count == 2, (1...2).contains(parts[0].count)
            else {
                throw CatalogError(
                    .invalidValue, "'\(text)' is not a time: write it as HH:MM on a 24-hour clock (22:00) or with am/pm (10pm, 10:30pm)")
            }
            try self.init(hour: hour, minute: minute)
            return
        }
        guard (1...2).contains(parts.count), let hour = numbers[0], (1...2).contains(parts[0].count),
            parts.count == 1 || (parts[1].count == 2 && numbers[1] != nil)
        else {
            throw CatalogError(.invalidValue, "'\(text)' is not a time: write it as 10pm or 10:30pm, or as 22:30 on a 24-hour clock")
        }
        guard (1...12).contains(hour) else {
            throw CatalogError(
                .invalidValue,
                "'\(text)': hour \(hour) is not on a 12-hour clock: use 1 to 12 with am/pm (12am is midnight), or 24-hour HH:MM")
        }
        try self.init(hour: hour % 12 + (afternoon ? 12 : 0), minute: parts.count == 2 ? numbers[1]! : 0)
    }

    /// Reads times separated by commas: `02:00,22:00`, `6am, 10 pm`.
    public static func parseList(_ text: String) throws(CatalogError) -> [TimeOfDay] {
        var times: [TimeOfDay] = []
        for item in text.split(separator: ",") where !item.allSatisfy(\.isWhitespace) {
            times.append(try TimeOfDay(parsing: item.trimmingCharacters(in: .whitespaces)))
        }
        guard !times.isEmpty else {
            throw CatalogError(.invalidValue, "give at least one time, for example 'at 22:00' or 'at 10pm'")
        }
        return times
    }

    public var minutesSinceMidnight: Int { hour * 60 + minute }

    public var description: String {
        (hour < 10 ? "0" : "") + "\(hour):" + (minute < 10 ? "0" : "") + "\(minute)"
    }

    public static func < (lhs: TimeOfDay, rhs: TimeOfDay) -> Bool {
        lhs.minutesSinceMidnight < rhs.minutesSinceMidnight
    }

}

/// A span of the day, such as a backup window or a throttling rule's hours; it may cross
/// midnight (22:00-06:00).
public struct TimeWindow: Sendable, Hashable, TextRepresentable {
    public let start: TimeOfDay
    public let end: TimeOfDay

    public init(start: TimeOfDay, end: TimeOfDay) throws(CatalogError) {
        guard start != end else {
            throw CatalogError(.invalidValue, "the window \(start)-\(end) is empty: give two different times, or no window for all day")
        }
        self.start = start
        self.end = end
    }

    /// Reads `22:00-06:00`.
    public init(parsing text: String) throws(CatalogError) {
        let parts = text.replacingOccurrences(of: " ", with: "").split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw CatalogError(.invalidValue, "'\(text)' is not a window: write it as HH:MM-HH:MM, for example 22:00-06:00")
        }
        try self.init(start: TimeOfDay(parsing: String(parts[0])), end: TimeOfDay(parsing: String(parts[1])))
    }

    /// Whether the window holds a time of day (minutes since midnight).
    public func contains(minuteOfDay: Int) -> Bool {
        let s = start.minutesSinceMidnight, e = end.minutesSinceMidnight
        return s < e ? (minuteOfDay >= s && minuteOfDay < e) : (minuteOfDay >= s || minuteOfDay < e)
    }

    public var description: String { "\(start)-\(end)" }

}
