import Catalog
import Foundation
import Testing

@testable import JobManager

/// A copy job's retention: its count of newest points, and the GFS points kept beyond it.
@Suite("Copy retention with GFS")
struct CopyRetentionTests {
    static let utc = TimeZone(identifier: "UTC")!
    static let day: TimeInterval = 86_400
    /// Wednesday 2026-01-07 12:00 UTC.
    static let start = Date(timeIntervalSince1970: 1_767_787_200)

    /// A copy a day for `days` days, each flagged as the rule flags it when it is recorded.
    static func daily(_ days: Int, rule: CopyRetention) -> [CopyRetention.Point] {
        var points: [CopyRetention.Point] = []
        for index in 0..<days {
            let at = start.addingTimeInterval(Double(index) * day)
            points.append(
                CopyRetention.Point(id: String(format: "p%03d", index), recordedAt: at, flags: rule.flags(at: at, existing: points)))
        }
        return points
    }

    @Test("the first copy of each week, month and year is flagged; the others are not")
    func flags() throws {
        let rule = CopyRetention(
            keep: JobRetention(count: 7, unit: .restorePoints), gfs: try GFSRetention(parsing: "weekly 4, monthly 12, yearly 3"),
            timeZone: Self.utc)
        let points = Self.daily(60, rule: rule)
        #expect(points[0].flags == [.weekly, .monthly, .yearly])
        // Wednesday the 7th; the next ISO week begins on Monday the 12th (index 5).
        #expect(points[1...4].allSatisfy { $0.flags.isEmpty })
        #expect(points[5].flags == [.weekly])
        // February the 1st (index 25) is a Sunday in the same week as the 26th of January.
        #expect(points[25].flags == [.monthly])
        #expect(points.filter { $0.flags.contains(.weekly) }.count == 9)
        #expect(points.filter { $0.flags.contains(.yearly) }.count == 1)
        let plain = CopyRetention(keep: JobRetention(count: 7, unit: .restorePoints), gfs: nil, timeZone: Self.utc)
        #expect(plain.flags(at: Self.start, existing: []).isEmpty)
    }

    @Test("the count keeps the newest; GFS keeps the newest weekly, monthly and yearly points beyond it")
    func keeps() throws {
        let rule = CopyRetention(
            keep: JobRetention(count: 3, unit: .restorePoints), gfs: try GFSRetention(parsing: "weekly 2, monthly 2"), timeZone: Self.utc)
        let points = Self.daily(60, rule: rule)
        let doomed = Set(rule.doomed(points, now: Self.start.addingTimeInterval(60 * Self.day)).map(\.id))
        let kept = Set(points.map(\.id)).subtracting(doomed)
        let weekly = points.filter { $0.flags.contains(.weekly) }.suffix(2).map(\.id)
        let monthly = points.filter { $0.flags.contains(.monthly) }.suffix(2).map(\.id)
        #expect(kept == Set(points.suffix(3).map(\.id) + weekly + monthly))
        #expect(kept.contains("p025") && !kept.contains("p000"), "February's first copy is kept, January's is past the two monthly points")
        #expect(rule.doomed(points, now: Self.start).first?.reason == "retention: keep 3 restore points and GFS weekly 2, monthly 2")
        // Without GFS only the count is kept; by days, the newest is kept even when old.
        let count = CopyRetention(keep: JobRetention(count: 3, unit: .restorePoints), gfs: nil, timeZone: Self.utc)
        #expect(count.doomed(points, now: Self.start).count == 57)
        let days = CopyRetention(keep: JobRetention(count: 7, unit: .days), gfs: nil, timeZone: Self.utc)
        #expect(days.doomed(points, now: Self.start.addingTimeInterval(400 * Self.day)).map(\.id) == points.dropLast().map(\.id))
    }

    @Test("GFS is read as periods and counts; anything else is refused with what to write")
    func parsing() throws {
        #expect(try GFSRetention(parsing: "yearly 3, weekly 4") == GFSRetention(weekly: 4, monthly: 0, yearly: 3))
        #expect(try GFSRetention(parsing: "Monthly 12").description == "monthly 12")
        for (text, says) in [
            ("weekly", "is not a period and a count"), ("montly 12", "did you mean 'monthly'"), ("weekly 4, weekly 5", "given twice"),
            ("weekly 0", "outside 1 to 520"), ("", "write it as"), ("weekly 4,", "write it as"),
        ] {
            let error = #expect(throws: CatalogError.self) { try GFSRetention(parsing: text) }
            #expect(error?.message.contains(says) == true, "\(text): \(error?.message ?? "")")
        }
    }
}
