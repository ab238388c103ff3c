import Catalog
import Foundation
import Testing

@testable import JobManager

/// "Keep N restore points" with and without two-person approval: under approval, points of
/// sessions a person started cannot push out the others.
@Suite("Count retention: points started by hand under two-person approval")
struct CountRetentionTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// Points oldest first, one an hour ending an hour ago; `hand` marks which were started by hand.
    static func points(_ hand: [Bool], hoursBefore last: Double = 1) -> [CountRetention.Point] {
        hand.enumerated().map { index, byHand in
            CountRetention.Point(
                id: "p\(index)", recordedAt: now.addingTimeInterval(-(last + Double(hand.count - 1 - index)) * 3_600), byHand: byHand)
        }
    }

    @Test("without approval the newest N are kept, whoever made them")
    func unguarded() {
        let rule = CountRetention(keep: 3, guarded: false, scheduled: true)
        #expect(rule.doomed(Self.points([false, false, true, true, true]), now: Self.now) == ["p0", "p1"])
        #expect(rule.doomed(Self.points([true, true]), now: Self.now).isEmpty)
        #expect(!rule.reason.contains("approval"))
    }

    @Test("scheduled job: many starts by hand remove nothing; the schedule's runs push out old points and the extras behind them")
    func scheduledJob() {
        let rule = CountRetention(keep: 3, guarded: true, scheduled: true)
        // Three scheduled points, then seven started by hand within the hour: nothing goes.
        let spammed = Self.points([false, false, false] + Array(repeating: true, count: 7))
        #expect(rule.doomed(spammed, now: Self.now).isEmpty)
        // Two more scheduled runs: the oldest two scheduled go, and the hand-made extras older
        // than the oldest kept scheduled point go with them.
        let later = Self.points([false, true, false, true, false, false, false])
        #expect(rule.doomed(later, now: Self.now) == ["p0", "p1", "p2", "p3"])
        // Hand-made points never count in a scheduled job, however old.
        #expect(rule.doomed(Self.points(Array(repeating: true, count: 9), hoursBefore: 100), now: Self.now).isEmpty)
        #expect(rule.reason.contains("two-person approval"))
    }

    @Test("job without a schedule: a point started by hand counts once it is a day old")
    func manualJob() {
        let rule = CountRetention(keep: 2, guarded: true, scheduled: false)
        // Five points made within the last five hours: none counts yet, nothing goes.
        #expect(rule.doomed(Self.points(Array(repeating: true, count: 5)), now: Self.now).isEmpty)
        // Made a day and more ago: they count, and the newest two are kept.
        #expect(rule.doomed(Self.points(Array(repeating: true, count: 5), hoursBefore: 30), now: Self.now) == ["p0", "p1", "p2"])
        // Three points three days old and four made in the last hours: only the old three
        // count, so only the oldest of them goes; the four new ones stay.
        let mixed = Self.points(Array(repeating: true, count: 7), hoursBefore: 1).enumerated().map { index, point in
            index < 3
                ? CountRetention.Point(id: point.id, recordedAt: point.recordedAt.addingTimeInterval(-3 * 86_400), byHand: true) : point
        }
        #expect(rule.doomed(mixed, now: Self.now) == ["p0"])
    }

    @Test("a job starts on its own when its schedule has times, or when the chain it follows starts at a job that does")
    func startsOnItsOwn() throws {
        var plan = CatalogPlan(CatalogState())
        try plan.add(ManagedServer(name: "lab", platform: .lab, folder: "/srv/lab"))
        try plan.add(RepositoryDefinition(name: "main", path: "/srv/backups"))
        let server = try #require(plan.state.id(of: ManagedServer.self, named: "lab"))
        let repository = try #require(plan.state.id(of: RepositoryDefinition.self, named: "main"))
        func add(_ name: String, _ schedule: Schedule) throws -> UUIDString {
            try plan.add(
                JobDefinition(
                    name: name, server: server, objects: [try ObjectSelector(parsing: "vm:web-01")], repository: repository,
                    schedule: schedule))
            return try #require(plan.state.id(of: JobDefinition.self, named: name))
        }
        let byHand = try add("by-hand", .manual)
        let afterByHand = try add("after-by-hand", .after(job: byHand))
        let thirdInChain = try add("third", .after(job: afterByHand))
        let nightly = try add("nightly", .daily(times: [try TimeOfDay(hour: 22, minute: 0)], days: Set(Weekday.allCases)))
        let afterNightly = try add("after-nightly", .after(job: nightly))
        let state = plan.state
        #expect(!CountRetention.startsOnItsOwn(byHand, in: state))
        #expect(!CountRetention.startsOnItsOwn(afterByHand, in: state) && !CountRetention.startsOnItsOwn(thirdInChain, in: state))
        #expect(CountRetention.startsOnItsOwn(nightly, in: state) && CountRetention.startsOnItsOwn(afterNightly, in: state))
        #expect(!CountRetention.startsOnItsOwn("no-such-job", in: state))
    }
}
