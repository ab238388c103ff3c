import Catalog
import Foundation
import Testing

@Suite("Next run times")
struct NextRunTests {
    /// A moment written as local time in a zone: "2026-03-28 23:00" in Europe/Berlin.
    func at(_ text: String, _ zone: String = "Europe/Berlin") -> Date {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: zone)
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        return formatter.date(from: text)!
    }

    func next(_ line: String, after text: String, zone: String = "Europe/Berlin") throws -> Date? {
        let schedule = try Schedule(parsing: line) { (_: String) throws(CatalogError) -> UUIDString in "job" }
        return schedule.nextRun(after: at(text, zone), timeZone: zone)
    }

    @Test("daily on chosen weekdays, several times a day")
    func daily() throws {
        // 2026-11-27 is a Friday.
        #expect(try next("daily at 22:00 on mon-fri", after: "2026-11-27 21:00") == at("2026-11-27 22:00"))
        #expect(try next("daily at 22:00 on mon-fri", after: "2026-11-27 22:00") == at("2026-11-30 22:00"))
        #expect(try next("daily at 06:00,22:00", after: "2026-11-27 07:00") == at("2026-11-27 22:00"))
        #expect(try next("daily at 06:00,22:00", after: "2026-11-27 23:00") == at("2026-11-28 06:00"))
    }

    @Test("weekly on chosen days, at a time typed on a 12-hour clock")
    func weekly() throws {
        // 2026-11-27 is a Friday; the next Sunday is 2026-11-29, the next Wednesday 2026-12-02.
        #expect(try next("weekly on sun,wed at 2am", after: "2026-11-27 21:00") == at("2026-11-29 02:00"))
        #expect(try next("weekly on sun,wed at 2am", after: "2026-11-29 02:00") == at("2026-12-02 02:00"))
        #expect(try next("daily at 10:30pm", after: "2026-11-27 22:00") == at("2026-11-27 22:30"))
        #expect(try next("every 1 hour", after: "2026-11-27 10:00") == at("2026-11-27 11:00"))
    }

    @Test("the nights the clocks change: a missing time runs after the gap, a doubled time runs once")
    func daylightSaving() throws {
        // Europe/Berlin springs forward at 02:00 → 03:00 on 2026-03-29 and falls back 03:00 → 02:00 on 2026-10-25.
        let spring = try #require(try next("daily at 02:30", after: "2026-03-29 00:00"))
        #expect(spring == at("2026-03-29 03:30"))
        let autumn = try #require(try next("daily at 02:30", after: "2026-10-25 00:00"))
        #expect(autumn.timeIntervalSince(at("2026-10-25 00:00")) == 2.5 * 3_600)  // the first 02:30 (still summer time), not the second
        let after = try #require(try next("daily at 02:30", after: "2026-10-25 03:00"))
        #expect(after == at("2026-10-26 02:30"))
        // Hourly slots on the short day: 02:00 does not exist, so the run after 01:00 is at 03:00.
        #expect(try next("every 1 hours", after: "2026-03-29 01:30") == at("2026-03-29 03:00"))
    }

    @Test("periodically, counted from midnight")
    func periodically() throws {
        #expect(try next("every 90 minutes", after: "2026-11-27 10:00") == at("2026-11-27 10:30"))
        #expect(try next("every 90 minutes", after: "2026-11-27 22:31") == at("2026-11-28 00:00"))
        #expect(try next("every 5 hours", after: "2026-11-27 20:00") == at("2026-11-28 00:00"))
        #expect(try next("every 15 minutes", after: "2026-11-27 10:14") == at("2026-11-27 10:15"))
    }

    @Test("monthly: a date, the last day, the Nth weekday; day 31 skips short months")
    func monthly() throws {
        #expect(try next("monthly on the fourth sat at 22:00", after: "2026-11-01 00:00") == at("2026-11-28 22:00"))
        #expect(try next("monthly on the fourth sat at 22:00", after: "2026-11-28 22:00") == at("2026-12-26 22:00"))
        #expect(try next("monthly on the last sun at 03:00", after: "2026-11-01 00:00") == at("2026-11-29 03:00"))
        #expect(try next("monthly on day last at 23:00", after: "2026-02-01 00:00") == at("2026-02-28 23:00"))
        #expect(try next("monthly on day 31 at 23:00", after: "2026-04-01 00:00") == at("2026-05-31 23:00"))
        #expect(try next("monthly on day 1 at 00:00", after: "2026-12-15 00:00") == at("2027-01-01 00:00"))
    }

    @Test("schedules not about time have no next run")
    func untimed() throws {
        #expect(try next("manual", after: "2026-11-27 10:00") == nil)
        #expect(try next("continuously", after: "2026-11-27 10:00") == nil)
        #expect(try next("after other", after: "2026-11-27 10:00") == nil)
    }
}
