import Foundation

/// When a job runs by itself: the schedule kinds administrators know from today's products.
///
/// Stored in events as a tagged object (`{"kind":"daily",...}`); people write and read it as
/// one line of text (`daily at 22:00 on mon-fri`), parsed by `Schedule(parsing:)`.
public enum Schedule: Sendable, Hashable {
    /// Only when started by hand.
    case manual
    /// At each of the times on each of the days.
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
    /// Reads one line; `jobID` turns the name in `after NAME` into the job's id.
    ///
    /// Grammar (case-insensitive):
    /// `manual` · `daily at HH:MM[,HH:MM...] [on DAYS]` · `monthly on day N|last at HH:MM` ·
    /// `monthly on the first|second|third|fourth|last DAY at HH:MM` · `every N minutes|hours` ·
    /// `continuously` · `after JOB-NAME`.
    public init(parsing text: String, jobID: (String) throws(CatalogError) -> UUIDString) throws(CatalogError) {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let first = words.first?.lowercased() else {
            throw CatalogError(.invalidValue, "the schedule is empty: write 'manual', 'daily at 22:00', 'every 4 hours' or another form from 'tidemark job add --help'")
        }
        var rest = Array(words.dropFirst())
        func take(_ keyword: String) -> Bool {
            if rest.first?.lowercased() == keyword { rest.removeFirst(); return true }
            return false
        }
        func fail(_ detail: String) -> CatalogError {
            CatalogError(.invalidValue, "schedule '\(text)': \(detail)")
        }
        switch first {
        case "manual", "none", "never":
            guard rest.isEmpty else { throw fail("'\(first)' takes nothing after it") }
            self = .manual
        case "continuously":
            guard rest.isEmpty else { throw fail("'continuously' takes nothing after it") }
            self = .continuously
        case "after":
            guard !rest.isEmpty else { throw fail("name the job to follow, for example 'after nightly-sql'") }
            self = .after(job: try jobID(rest.joined(separator: " ")))
        case "every":
            guard rest.count == 2, let count = Int(rest[0]) else {
                throw fail("write 'every N minutes' or 'every N hours', for example 'every 30 minutes'")
            }
            let unitWord = rest[1].lowercased()
            guard let unit = PeriodUnit(rawValue: unitWord.hasSuffix("s") ? unitWord : unitWord + "s") else {
                throw fail("'\(rest[1])' is not a unit: use minutes or hours")
            }
            guard count >= 1 else { throw fail("every \(count) \(unit.rawValue) never comes: use 1 or more") }
            guard count <= unit.maximum else {
                throw fail("every \(count) \(unit.rawValue) is longer than a day: use at most \(unit.maximum), or a daily schedule")
            }
            self = .periodically(every: count, unit: unit)
        case "daily":
            guard take("at"), let timesText = rest.first else {
                throw fail("write 'daily at HH:MM', optionally followed by 'on mon-fri'")
            }
            rest.removeFirst()
            var times: [TimeOfDay] = []
            for item in timesText.split(separator: ",") {
                do { times.append(try TimeOfDay(parsing: String(item))) } catch { throw fail(error.message) }
            }
            guard !times.isEmpty else { throw fail("give at least one time, for example 'daily at 22:00'") }
            guard Set(times).count == times.count else { throw fail("the same time is listed twice") }
            var days = Set(Weekday.allCases)
            if take("on") {
                guard rest.count == 1 else { throw fail("write the days as one word, such as 'on mon-fri' or 'on mon,wed,fri'") }
                do { days = try Weekday.parseSet(rest.removeFirst()) } catch { throw fail(error.message) }
            }
            guard rest.isEmpty else { throw fail("unexpected '\(rest.joined(separator: " "))' at the end") }
            self = .daily(times: times.sorted(), days: days)
        case "monthly":
            guard take("on") else { throw fail("write 'monthly on day 1 at 22:00' or 'monthly on the last saturday at 22:00'") }
            let day: MonthDay
            if take("day") {
                guard let word = rest.first else { throw fail("give the day of the month, 1 to 31 or 'last'") }
                rest.removeFirst()
                if word.lowercased() == "last" {
                    day = .lastDay
                } else if let number = Int(word), (1...31).contains(number) {
                    day = .date(number)
                } else {
                    throw fail("'\(word)' is not a day of the month: use 1 to 31 or 'last'")
                }
            } else {
                _ = take("the")
                guard rest.count >= 2 else { throw fail("write 'monthly on the fourth saturday at 22:00'") }
                let ordinalWord = rest.removeFirst().lowercased()
                guard let ordinal = Ordinal(rawValue: ordinalWord) else {
                    throw fail("'\(ordinalWord)' is not an ordinal a month always has: use first, second, third, fourth or last")
                }
                let weekday: Weekday
                do { weekday = try Weekday(parsing: rest.removeFirst()) } catch { throw fail(error.message) }
                day = .weekday(ordinal, weekday)
            }
            guard take("at"), rest.count == 1 else { throw fail("end with the time, for example 'at 22:00'") }
            let time: TimeOfDay
            do { time = try TimeOfDay(parsing: rest[0]) } catch { throw fail(error.message) }
            self = .monthly(day: day, time: time)
        default:
            throw fail("'\(words[0])' starts no schedule: use manual, daily, monthly, every, continuously or after")
        }
    }

    /// The line `init(parsing:)` reads back as this schedule; `jobName` names the job of `after`.
    public func text(jobName: (UUIDString) -> String) -> String {
        switch self {
        case .manual: return "manual"
        case .continuously: return "continuously"
        case .after(let job): return "after \(jobName(job))"
        case .periodically(let count, let unit): return "every \(count) \(unit.rawValue)"
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
                throw DecodingError.dataCorruptedError(forKey: .day, in: container, debugDescription: "a monthly schedule needs a day or an ordinal weekday")
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
