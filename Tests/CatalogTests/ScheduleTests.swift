import Catalog
import Testing

@Suite("Schedules")
struct ScheduleTests {
    func parse(_ text: String) throws -> Schedule {
        try Schedule(parsing: text) { (name: String) throws(CatalogError) -> UUIDString in
            guard name == "nightly" else { throw CatalogError(.notFound, "no job '\(name)'") }
            return "job-id-1"
        }
    }

    @Test("every schedule kind reads and writes back the same line")
    func roundTrip() throws {
        let lines = [
            "manual", "continuously", "after nightly", "every 30 minutes", "every 4 hours", "daily at 22:00",
            "daily at 02:00,22:00 on mon-fri", "daily at 07:30 on sat-sun", "daily at 12:00 on mon,wed,fri",
            "monthly on day 1 at 22:00", "monthly on day last at 23:00", "monthly on the fourth sat at 22:00",
            "monthly on the last sun at 03:00",
        ]
        for line in lines {
            let schedule = try parse(line)
            #expect(schedule.text { $0 == "job-id-1" ? "nightly" : $0 } == line)
        }
        #expect(try parse("Daily AT 22:00 ON weekdays") == .daily(times: [try TimeOfDay(hour: 22, minute: 0)], days: [.monday, .tuesday, .wednesday, .thursday, .friday]))
    }

    @Test("impossible schedules are refused with the reason", arguments: [
        ("daily at 25:00", "hour 25 is not on a clock"),
        ("daily at 22:60", "minute 60"),
        ("every 0 minutes", "never comes"),
        ("every 25 hours", "longer than a day"),
        ("monthly on the fifth monday at 22:00", "'fifth' is not an ordinal"),
        ("monthly on day 32 at 22:00", "not a day of the month"),
        ("daily at 22:00 on fri-mon", "runs backwards"),
        ("daily at 22:00 on funday", "not a day of the week"),
        ("weekly at 22:00", "starts no schedule"),
        ("after unknown-job", "no job 'unknown-job'"),
        ("", "empty"),
        ("daily at 22:00,22:00", "twice"),
    ])
    func refused(line: String, reason: String) {
        #expect {
            _ = try parse(line)
        } throws: { error in
            "\(error)".contains(reason)
        }
    }

    @Test("a window may cross midnight")
    func window() throws {
        let window = try TimeWindow(parsing: "22:00-06:00")
        #expect(window.contains(minuteOfDay: 23 * 60))
        #expect(window.contains(minuteOfDay: 5 * 60))
        #expect(!window.contains(minuteOfDay: 12 * 60))
        #expect(throws: CatalogError.self) { try TimeWindow(parsing: "22:00-22:00") }
    }
}
