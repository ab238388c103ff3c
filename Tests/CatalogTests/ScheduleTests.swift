import Catalog
import Foundation
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
            "manual", "continuously", "after nightly", "every 30 minutes", "every 4 hours", "every 1 hour", "every 1 minute",
            "daily at 22:00",
            "daily at 02:00,22:00 on mon-fri", "daily at 07:30 on sat-sun", "daily at 12:00 on mon,wed,fri",
            "monthly on day 1 at 22:00", "monthly on day last at 23:00", "monthly on the fourth sat at 22:00",
            "monthly on the last sun at 03:00",
        ]
        for line in lines {
            let schedule = try parse(line)
            #expect(schedule.text { $0 == "job-id-1" ? "nightly" : $0 } == line)
        }
        #expect(
            try parse("Daily AT 22:00 ON weekdays")
                == .daily(times: [try TimeOfDay(hour: 22, minute: 0)], days: [.monday, .tuesday, .wednesday, .thursday, .friday]))
    }

    @Test(
        "impossible schedules are refused with the reason",
        arguments: [
            ("daily at 25:00", "hour 25 is not on a clock"),
            ("daily at 22:60", "minute 60"),
            ("every 0 minutes", "never comes"),
            ("every 25 hours", "longer than a day"),
            ("monthly on the fifth monday at 22:00", "'fifth' is not an ordinal"),
            ("monthly on day 32 at 22:00", "not a day of the month"),
            ("daily at 22:00 on fri-mon", "runs backwards"),
            ("daily at 22:00 on funday", "not a day of the week"),
            ("weekly at 22:00", "name the days, for example 'weekly on sun at 02:00'"),
            ("weekly on sun", "end with the time"),
            ("weekly sun at 02:00", "write 'weekly on sun at 02:00'"),
            ("weekly on at 02:00", "name the days after 'on'"),
            ("daily at 13pm", "hour 13 is not on a 12-hour clock"),
            ("daily at 0am", "hour 0 is not on a 12-hour clock"),
            ("daily at 10:75pm", "minute 75 is not on a clock"),
            ("daily at 10", "'10' is not a time"),
            ("daily at 10:3pm", "'10:3pm' is not a time"),
            ("daily at", "give at least one time"),
            ("monthly on day 1 at 02:00,22:00", "runs at one time"),
            ("every 1.5 hours", "'1.5' is not a whole number"),
            ("every day", "write 'daily at 22:00'"),
            ("every 2 weeks", "for once a week"),
            ("every 4", "write 'every N minutes'"),
            ("hourly", "'hourly' starts no schedule: use manual, daily, weekly"),
            ("every -2 hours", "never comes"),
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

    @Test(
        "schedules as people type them",
        arguments: [
            ("weekly on sun at 02:00", "daily at 02:00 on sun"),
            ("weekly on sun,wed at 02:00", "daily at 02:00 on wed,sun"),
            ("Weekly on Sunday and Wednesday at 2am", "daily at 02:00 on wed,sun"),
            ("weekly on mon - fri at 10pm", "daily at 22:00 on mon-fri"),
            ("weekly at 02:00 on sat", "daily at 02:00 on sat"),
            ("daily at 10pm", "daily at 22:00"),
            ("daily at 10:30pm", "daily at 22:30"),
            ("daily at 10 pm", "daily at 22:00"),
            ("daily at 10:30 PM on mon-fri", "daily at 22:30 on mon-fri"),
            ("daily at 12am, 12pm", "daily at 00:00,12:00"),
            ("daily at 6am,6pm on sat, sun", "daily at 06:00,18:00 on sat-sun"),
            ("daily at 7:05", "daily at 07:05"),
            ("monthly on day 1 at 11 pm", "monthly on day 1 at 23:00"),
            ("every 1 hour", "every 1 hour"),
            ("every hour", "every 1 hour"),
            ("every 1 minute", "every 1 minute"),
            ("every 15 min", "every 15 minutes"),
            ("every 2 hrs", "every 2 hours"),
        ])
    func typed(line: String, reads: String) throws {
        #expect(try parse(line).text { $0 } == reads)
    }

    @Test(
        "a misspelled form suggests the nearest valid line",
        arguments: [
            ("dialy at 22:00", "unknown schedule 'dialy at 22:00': did you mean 'daily at 22:00'?"),
            ("wekly on sun at 02:00", "unknown schedule 'wekly on sun at 02:00': did you mean 'weekly on sun at 02:00'?"),
            ("montly on day 1 at 22:00", "did you mean 'monthly on day 1 at 22:00'?"),
            ("evrey 4 hours", "did you mean 'every 4 hours'?"),
            ("manaul", "did you mean 'manual'?"),
            ("aftr nightly", "did you mean 'after nightly'?"),
            (
                "daily at 22:00 on mnday",
                "'mnday' is not a day of the week: use mon, tue, wed, thu, fri, sat or sun; did you mean 'daily at 22:00 on monday'?"
            ),
            ("weekly on snu,wed at 2am", "did you mean 'weekly on sun,wed at 2am'?"),
            (
                "monthly on the frist sat at 22:00",
                "'frist' is not an ordinal a month always has: use first, second, third, fourth or last; did you mean 'monthly on the first sat at 22:00'?"
            ),
            ("every 4 huors", "'huors' is not a unit (did you mean 'hours'?): use minutes or hours; did you mean 'every 4 hours'?"),
            ("dialy at 25:00", "unknown schedule 'dialy at 25:00': 'dialy' starts no schedule"),
        ])
    func suggested(line: String, message: String) {
        #expect {
            _ = try parse(line)
        } throws: { error in
            "\(error)".contains(message)
        }
    }

    @Test("a weekly schedule is stored as a daily one on its days, so old readers read it")
    func weeklyIsDaily() throws {
        let weekly = try parse("weekly on sun,wed at 02:00")
        #expect(weekly == .daily(times: [try TimeOfDay(hour: 2, minute: 0)], days: [.sunday, .wednesday]))
        let json = String(decoding: try JSONEncoder().encode(weekly), as: UTF8.self)
        #expect(json.contains("\"kind\":\"daily\""))
        #expect(try JSONDecoder().decode(Schedule.self, from: Data(json.utf8)) == weekly)
    }

    @Test("times on a 12-hour clock: midnight, noon and the afternoon")
    func twelveHourClock() throws {
        #expect(try TimeOfDay(parsing: "12am") == TimeOfDay(hour: 0, minute: 0))
        #expect(try TimeOfDay(parsing: "12:30am") == TimeOfDay(hour: 0, minute: 30))
        #expect(try TimeOfDay(parsing: "12pm") == TimeOfDay(hour: 12, minute: 0))
        #expect(try TimeOfDay(parsing: "1 PM") == TimeOfDay(hour: 13, minute: 0))
        #expect(try TimeOfDay(parsing: "11:59pm") == TimeOfDay(hour: 23, minute: 59))
        #expect(
            try TimeWindow(parsing: "10pm-6am") == TimeWindow(start: TimeOfDay(hour: 22, minute: 0), end: TimeOfDay(hour: 6, minute: 0)))
        #expect(throws: CatalogError.self) { try TimeOfDay(parsing: "pm") }
        #expect(throws: CatalogError.self) { try TimeOfDay(parsing: "１0pm") }
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
