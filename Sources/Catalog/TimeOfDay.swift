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

    /// Reads `22:00`, `7:30`.
    public init(parsing text: String) throws(CatalogError) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let hour = Int(parts[0]), let minute = Int(parts[1]), parts[1].count == 2,
            (1...2).contains(parts[0].count)
        else {
            throw CatalogError(.invalidValue, "'\(text)' is not a time: write it as HH:MM on a 24-hour clock, for example 22:00")
        }
        try self.init(hour: hour, minute: minute)
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

import Foundation
