/// Reading a schedule as people type it.
///
/// Grammar (case-insensitive; times as `22:00`, `7:30`, `10pm`, `10:30 pm`):
/// `manual` · `daily at TIME[,TIME...] [on DAYS]` · `weekly on DAYS at TIME[,TIME...]` ·
/// `monthly on day N|last at TIME` · `monthly on the first|second|third|fourth|last DAY at TIME` ·
/// `every N minutes|hours` (`every 1 hour`, `every hour`) · `continuously` · `after JOB-NAME`.
///
/// A weekly schedule is a daily one on the days named (`weekly on sun at 02:00` is
/// `daily at 02:00 on sun`): one kind of event for both, so every reader of the log keeps
/// reading it. A line that does not read is refused with the reason and, when changing the
/// misspelled words (keywords, weekdays, units, ordinals) gives a line that does, that line.
extension Schedule {
    /// Reads one line; `jobID` turns the name in `after NAME` into the job's id.
    public init(parsing text: String, jobID: (String) throws(CatalogError) -> UUIDString) throws(CatalogError) {
        do {
            self = try Self.parse(text, jobID: jobID)
        } catch {
            let words = Self.words(of: text)
            var suggestion: String?
            if let first = words.first?.lowercased(), first != "after", let repaired = Self.repaired(text), repaired != text,
                (try? Self.parse(repaired, jobID: jobID)) != nil
            {
                suggestion = repaired
            }
            if let first = words.first, !Self.keywords.contains(first.lowercased()) {
                let forms = "'\(first)' starts no schedule: use manual, daily, weekly, monthly, every, continuously or after"
                throw CatalogError(.invalidValue, "unknown schedule '\(text)': " + (suggestion.map { "did you mean '\($0)'?" } ?? forms))
            }
            guard let suggestion else { throw error }
            throw CatalogError(error.code, "\(error.message); did you mean '\(suggestion)'?")
        }
    }

    /// The words that start a schedule.
    static let keywords = ["manual", "none", "never", "continuously", "after", "every", "daily", "weekly", "monthly"]

    /// Every word the grammar knows, for correcting misspelled ones.
    static let vocabulary =
        keywords + ["at", "on", "day", "the", "and", "am", "pm", "minute", "minutes", "hour", "hours"]
        + Ordinal.allCases.map(\.rawValue) + Weekday.allCases.map(\.description) + Weekday.allCases.map(\.name)
        + ["weekdays", "weekends", "workdays", "everyday"]

    static func words(of text: String) -> [String] {
        text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
    }

    /// `text` with each word of letters the grammar does not know replaced by the known word
    /// it most likely meant (numbers, times and punctuation kept as they are); nil when no
    /// word changed.
    static func repaired(_ text: String) -> String? {
        var result = "", word = "", changed = false
        func flush() {
            guard !word.isEmpty else { return }
            if !vocabulary.contains(word.lowercased()), let known = Spelling.nearest(to: word, among: vocabulary) {
                result += known
                changed = true
            } else {
                result += word
            }
            word = ""
        }
        for character in text {
            if character.isLetter {
                word.append(character)
            } else {
                flush()
                result.append(character)
            }
        }
        flush()
        return changed ? result : nil
    }

    private static func parse(_ text: String, jobID: (String) throws(CatalogError) -> UUIDString) throws(CatalogError) -> Schedule {
        var rest = words(of: text)
        guard !rest.isEmpty else {
            throw CatalogError(
                .invalidValue,
                "the schedule is empty: write 'manual', 'daily at 22:00', 'every 4 hours' or another form from 'tidemark job add --help'")
        }
        let first = rest.removeFirst().lowercased()
        func fail(_ detail: String) -> CatalogError { CatalogError(.invalidValue, "schedule '\(text)': \(detail)") }
        /// Removes `keyword` from the front of what is left, if it is there.
        func take(_ keyword: String) -> Bool {
            if rest.first?.lowercased() == keyword {
                rest.removeFirst()
                return true
            }
            return false
        }
        /// Removes and returns the words before `keyword` (or all that are left).
        func take(until keyword: String?) -> [String] {
            let end = rest.firstIndex { $0.lowercased() == keyword } ?? rest.endIndex
            defer { rest.removeSubrange(..<end) }
            return Array(rest[..<end])
        }
        func times(_ words: [String]) throws(CatalogError) -> [TimeOfDay] {
            let list: [TimeOfDay]
            do { list = try TimeOfDay.parseList(words.joined(separator: " ")) } catch { throw fail(error.message) }
            guard Set(list).count == list.count else { throw fail("the same time is listed twice") }
            return list.sorted()
        }
        func days(_ words: [String]) throws(CatalogError) -> Set<Weekday> {
            guard !words.isEmpty else { throw fail("name the days after 'on', such as 'on mon-fri' or 'on sun,wed'") }
            do { return try Weekday.parseSet(words: words) } catch { throw fail(error.message) }
        }

        switch first {
        case "manual", "none", "never":
            guard rest.isEmpty else { throw fail("'\(first)' takes nothing after it") }
            return .manual
        case "continuously":
            guard rest.isEmpty else { throw fail("'continuously' takes nothing after it") }
            return .continuously
        case "after":
            guard !rest.isEmpty else { throw fail("name the job to follow, for example 'after nightly-sql'") }
            return .after(job: try jobID(rest.joined(separator: " ")))
        case "every":
            return try parseEvery(rest, fail: fail)
        case "daily":
            guard take("at") else { throw fail("write 'daily at HH:MM', optionally followed by 'on mon-fri'") }
            let list = try times(take(until: "on"))
            var chosen = Set(Weekday.allCases)
            if take("on") { chosen = try days(take(until: nil)) }
            return .daily(times: list, days: chosen)
        case "weekly":
            let chosen: Set<Weekday>, list: [TimeOfDay]
            if take("on") {
                chosen = try days(take(until: "at"))
                guard take("at") else { throw fail("end with the time, for example 'weekly on sun at 02:00'") }
                list = try times(take(until: nil))
            } else if take("at") {
                list = try times(take(until: "on"))
                guard take("on") else { throw fail("name the days, for example 'weekly on sun at 02:00'") }
                chosen = try days(take(until: nil))
            } else {
                throw fail("write 'weekly on sun at 02:00' or 'weekly on mon,thu at 22:00'")
            }
            return .daily(times: list, days: chosen)
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
            guard take("at"), !rest.isEmpty else { throw fail("end with the time, for example 'at 22:00'") }
            let list = try times(take(until: nil))
            guard list.count == 1 else { throw fail("a monthly schedule runs at one time: write one, such as 'at 22:00'") }
            return .monthly(day: day, time: list[0])
        default:
            throw fail("'\(first)' starts no schedule")
        }
    }

    /// `every N minutes|hours`, `every 1 hour`, `every hour`, `every 15 min`.
    private static func parseEvery(_ words: [String], fail: (String) -> CatalogError) throws(CatalogError) -> Schedule {
        let example = "write 'every N minutes' or 'every N hours', for example 'every 30 minutes'"
        var rest = words
        var count = 1
        if let number = rest.first.flatMap({ Int($0) }) {
            count = number
            rest.removeFirst()
        } else if let word = rest.first, word.first?.isNumber == true || word.first == "-" {
            throw fail("'\(word)' is not a whole number: \(example)")
        }
        guard rest.count == 1 else { throw fail(example) }
        let unitWord = rest[0].lowercased()
        let unit: PeriodUnit
        switch unitWord {
        case "minute", "minutes", "min", "mins": unit = .minutes
        case "hour", "hours", "hr", "hrs", "h": unit = .hours
        case "day", "days", "week", "weeks", "month", "months":
            throw fail(
                "for once a \(unitWord.hasPrefix("day") ? "day" : unitWord.hasPrefix("week") ? "week" : "month") write 'daily at 22:00', 'weekly on sun at 02:00' or 'monthly on day 1 at 22:00'"
            )
        default:
            let hint = Spelling.nearest(to: unitWord, among: ["minutes", "hours"]).map { " (did you mean '\($0)'?)" } ?? ""
            throw fail("'\(rest[0])' is not a unit\(hint): use minutes or hours")
        }
        let plural = count == 1 ? String(unit.rawValue.dropLast()) : unit.rawValue
        guard count >= 1 else { throw fail("every \(count) \(plural) never comes: use 1 or more") }
        guard count <= unit.maximum else {
            throw fail("every \(count) \(plural) is longer than a day: use at most \(unit.maximum), or a daily schedule")
        }
        return .periodically(every: count, unit: unit)
    }
}
