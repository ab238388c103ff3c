import Foundation

/// When a job runs by itself: the schedule kinds administrators know from today's products.
///
/// Stored in events as a tagged object (`{"kind":"daily",...}`); people write and read it as
/// one line of text (`daily at 22:00 on mon-fri`), parsed by `Schedule(parsing:)` (in
/// `Schedule+Parsing.swift`, with the grammar).
public enum Schedule: Sendable, Hashable {
    /// Only when started by hand.
    case manual
    /// At each of the times on each of the days (`weekly on sun at 02:00` reads as this too).
    case daily(times: [TimeOfDay], days: Set<Weekday>)
    /// Once a month at a time, on a day of the month or on the Nth weekday.
    case monthly(day: MonthDay, time: TimeOfDay)
    /// Every N minutes or hours counted from 00:00 of each day.
    case periodically(every: Int, unit: PeriodUnit)
    /// Back to back: a new session as soon as the previous one ends.
    case continuously
    /// When another job's session ends (the job's id).
    case after(job: UUIDString)

    public enum PeriodUnit: String, Sendable, Hashable, Codable {
        case minutes
        case hours

        /// The largest count that still repeats within a day.
        var maximum: Int { self == .minutes ? 1_440 : 24 }
    }

    /// A day in a month: a date (1-31, or the last day) or an ordinal weekday.
    public enum MonthDay: Sendable, Hashable {
        case date(Int)
        case lastDay
        case weekday(Ordinal, Weekday)
    }

    public enum Ordinal: String, Sendable, Hashable, Codable, CaseIterable {
        case first, second, third, fourth, last
    }

    /// The job this schedule follows, if it is a chain.
    public var predecessor: UUIDString? {
        if case .after(let job) = self { return job }
        return nil
    }
}

extension Schedule {
    /// The line `init(parsing:)` reads back as this schedule; `jobName` names the job of `after`.
    public func text(jobName: (UUIDString) -> String) -> String {
        switch self {
        case .manual: return "manual"
        case .continuously: return "continuously"
        case .after(let job): return "after \(jobName(job))"
        case .periodically(let count, let unit): return "every \(count) \(count == 1 ? String(unit.rawValue.dropLast()) : unit.rawValue)"
        case .daily(let times, let days):
            let line = "daily at " + times.map(\.description).joined(separator: ",")
            return days.count == 7 ? line : line + " on " + Weekday.describe(days)
        case .monthly(let day, let time):
            switch day {
            case .date(let number): return "monthly on day \(number) at \(time)"
            case .lastDay: return "monthly on day last at \(time)"
            case .weekday(let ordinal, let weekday): return "monthly on the \(ordinal.rawValue) \(weekday) at \(time)"
            }
        }
    }
}

extension Schedule: Codable {
    private enum CodingKeys: String, CodingKey {
        case kind, times, days, day, ordinal, weekday, time, every, unit, job
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        switch try container.decode(String.self, forKey: .kind) {
        case "manual": self = .manual
        case "continuously": self = .continuously
        case "after": self = .after(job: try container.decode(String.self, forKey: .job))
        case "periodically":
            self = .periodically(
                every: try container.decode(Int.self, forKey: .every), unit: try container.decode(PeriodUnit.self, forKey: .unit))
        case "daily":
            self = .daily(
                times: try container.decode([TimeOfDay].self, forKey: .times),
                days: Set(try container.decode([Weekday].self, forKey: .days)))
        case "monthly":
            let time = try container.decode(TimeOfDay.self, forKey: .time)
            if let ordinal = try container.decodeIfPresent(Ordinal.self, forKey: .ordinal) {
                self = .monthly(day: .weekday(ordinal, try container.decode(Weekday.self, forKey: .weekday)), time: time)
            } else if let day = try container.decodeIfPresent(Int.self, forKey: .day) {
                self = .monthly(day: day == 0 ? .lastDay : .date(day), time: time)
            } else {
                throw DecodingError.dataCorruptedError(
                    forKey: .day, in: container, debugDescription: "a monthly schedule needs a day or an ordinal weekday")
            }
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .kind, in: container, debugDescription: "unknown schedule kind '\(other)'")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .manual: try container.encode("manual", forKey: .kind)
        case .continuously: try container.encode("continuously", forKey: .kind)
        case .after(let job):
            try container.encode("after", forKey: .kind)
            try container.encode(job, forKey: .job)
        case .periodically(let every, let unit):
            try container.encode("periodically", forKey: .kind)
            try container.encode(every, forKey: .every)
            try container.encode(unit, forKey: .unit)
        case .daily(let times, let days):
            try container.encode("daily", forKey: .kind)
            try container.encode(times, forKey: .times)
            try container.encode(days.sorted(), forKey: .days)
        case .monthly(let day, let time):
            try container.encode("monthly", forKey: .kind)
            try container.encode(time, forKey: .time)
            switch day {
            case .date(let number): try container.encode(number, forKey: .day)
            case .lastDay: try container.encode(0, forKey: .day)
            case .weekday(let ordinal, let weekday):
                try container.encode(ordinal, forKey: .ordinal)
                try container.encode(weekday, forKey: .weekday)
            }
        }
    }
}
