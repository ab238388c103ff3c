import Catalog
import Testing

@Suite("Retention and spelling")
struct RetentionTests {
    @Test(
        "retention in the words people type",
        arguments: [
            ("7 restore points", 7, JobRetention.Unit.restorePoints, "7 restore points"),
            ("3 restore point", 3, .restorePoints, "3 restore points"),
            ("5 points", 5, .restorePoints, "5 restore points"),
            ("7", 7, .restorePoints, "7 restore points"),
            ("14 days", 14, .days, "14 days"),
            ("1 day", 1, .days, "1 day"),
            ("1 Day", 1, .days, "1 day"),
        ])
    func reads(text: String, count: Int, unit: JobRetention.Unit, description: String) throws {
        let retention = try JobRetention(parsing: text)
        #expect(retention == JobRetention(count: count, unit: unit))
        #expect(retention.description == description)
    }

    @Test(
        "a retention that does not read says why",
        arguments: [
            ("seven days", "write it as '7 restore points' or '14 days'"),
            ("14 dyas", "'dyas' is not a unit (did you mean 'days'?)"),
            ("3 restore pionts", "did you mean 'restore points'?"),
            ("2 fortnights", "'fortnights' is not a unit: use 'restore points' or 'days'"),
        ])
    func refused(text: String, reason: String) {
        #expect {
            _ = try JobRetention(parsing: text)
        } throws: { error in
            "\(error)".contains(reason)
        }
    }

    @Test("typos are corrected, unrelated words are not")
    func spelling() {
        #expect(Spelling.distance("strat", "start") == 1)
        #expect(Spelling.distance("dialy", "daily") == 1)
        #expect(Spelling.distance("", "job") == 3)
        #expect(Spelling.nearest(to: "strat", among: ["stop", "start", "show"]) == "start")
        #expect(Spelling.nearest(to: "Sesion", among: ["session", "server"]) == "session")
        #expect(Spelling.nearest(to: "xyz", among: ["job", "lab"]) == nil)
        #expect(Spelling.nearest(to: "ls", among: ["list", "lab"]) == nil)
        #expect(Spelling.nearest(to: "retentin", among: JobDocument.keys, maximum: 3) == "retention")
    }
}
