import Foundation

extension Schedule {
    /// The first moment strictly after `instant` at which the schedule wants a run, in the
    /// job's time zone; nil for schedules that are not about time (manual, continuously,
    /// after another job) or that never come (day 31 of no month is impossible, so that
    /// cannot happen: day N skips the months too short for it).
    ///
    /// Days the clocks change: a local time that does not exist (02:30 on the spring-forward
    /// night) runs as many minutes after the gap as it lies into it (03:30); a local time that
    /// happens twice (the autumn night) runs once, the first time.
    public func nextRun(after instant: Date, timeZone identifier: String) -> Date? {
        guard let zone = TimeZone(identifier: identifier) else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        switch self {
        case .manual, .continuously, .after:
            return nil
        case .daily(let times, let days):
            return Self.earliest(
                times.compactMap { time in
                    var next = instant
                    // At most a week of candidates for one time of day.
                    for _ in 0..<8 {
                        guard let candidate = Self.next(time, after: next, in: calendar) else { return nil }
                        if days.contains(Self.weekday(of: candidate, in: calendar)) { return candidate }
                        next = candidate
                    }
                    return nil
                })
        case .periodically(let every, let unit):
            let step = unit == .hours ? every * 60 : every
            guard step > 0 else { return nil }
            // Counted from each local midnight: today's remaining slots, then tomorrow's first.
            let today = calendar.startOfDay(for: instant)
            for dayOffset in 0...1 {
                guard let day = calendar.date(byAdding: .day, value: dayOffset, to: today) else { return nil }
                var minute = 0
                while minute < 1_440 {
                    if let candidate = Self.local(hour: minute / 60, minute: minute % 60, on: day, in: calendar), candidate > instant {
                        return candidate
                    }
                    minute += step
                }
            }
            return nil
        case .monthly(let day, let time):
            let components = calendar.dateComponents([.year, .month], from: instant)
            guard var month = calendar.date(from: components) else { return nil }
            for _ in 0..<14 {
                if let date = Self.day(day, inMonthOf: month, in: calendar),
                    let candidate = Self.local(hour: time.hour, minute: time.minute, on: date, in: calendar), candidate > instant
                {
                    return candidate
                }
                guard let following = calendar.date(byAdding: .month, value: 1, to: month) else { return nil }
                month = following
            }
            return nil
        }
    }

    private static func earliest(_ dates: [Date]) -> Date? { dates.min() }

    private static func weekday(of date: Date, in calendar: Calendar) -> Weekday {
        let gregorian = calendar.component(.weekday, from: date)
        return Weekday(rawValue: gregorian == 1 ? 7 : gregorian - 1)!
    }

    /// The next moment after `instant` whose local time is `time` (DST rules as documented).
    private static func next(_ time: TimeOfDay, after instant: Date, in calendar: Calendar) -> Date? {
        calendar.nextDate(
            after: instant, matching: DateComponents(hour: time.hour, minute: time.minute, second: 0),
            matchingPolicy: .nextTimePreservingSmallerComponents, repeatedTimePolicy: .first, direction: .forward)
    }

    /// `hour:minute` local on the day of `day`, with the same DST rules.
    private static func local(hour: Int, minute: Int, on day: Date, in calendar: Calendar) -> Date? {
        let start = calendar.startOfDay(for: day)
        guard let time = try? TimeOfDay(hour: hour, minute: minute),
            let candidate = next(time, after: start.addingTimeInterval(-1), in: calendar)
        else { return nil }
        return calendar.isDate(candidate, inSameDayAs: start) ? candidate : nil
    }

    /// The date in the month of `month` that `day` names, or nil when the month has none.
    private static func day(_ day: MonthDay, inMonthOf month: Date, in calendar: Calendar) -> Date? {
        guard let range = calendar.range(of: .day, in: .month, for: month) else { return nil }
        let first = calendar.startOfDay(for: month)
        switch day {
        case .date(let number):
            guard range.contains(number) else { return nil }
            return calendar.date(byAdding: .day, value: number - 1, to: first)
        case .lastDay:
            return calendar.date(byAdding: .day, value: range.count - 1, to: first)
        case .weekday(let ordinal, let weekday):
            let matching = range.compactMap { calendar.date(byAdding: .day, value: $0 - 1, to: first) }
                .filter { Self.weekday(of: $0, in: calendar) == weekday }
            switch ordinal {
            case .first: return matching.first
            case .second: return matching.count > 1 ? matching[1] : nil
            case .third: return matching.count > 2 ? matching[2] : nil
            case .fourth: return matching.count > 3 ? matching[3] : nil
            case .last: return matching.last
            }
        }
    }
}
