import Catalog
import CatalogStore
import EventStore
import Foundation
import TestSupport
import Testing

/// Throttling rules cover restores as they cover backups: the link between the repository's
/// site and the repository, whichever way the data goes.
@Suite("Restore throttling", .timeLimit(.minutes(10)))
struct RestoreThrottlingTests {
    static func addRule(
        _ name: String, sites: [String], bytesPerSecond: Int64, window: TimeWindow? = nil, in environment: JobEnvironment
    ) async throws {
        let catalog = CatalogStore(events: environment.database.eventStore())
        try await catalog.execute(metadata: EventMetadata(actor: "test")) { state throws(CatalogError) in
            try CatalogDecider.add(
                ThrottlingRule(
                    name: name, sourceSites: sites, targetRepositories: [try state.require(RepositoryDefinition.self, named: "repo")],
                    bytesPerSecond: bytesPerSecond, window: window),
                id: UUID().uuidString.lowercased(), in: state)
        }
    }

    @Test("a rule covering the repository's site paces an export at its rate, recorded in the session and reporting.restores")
    func throttledExport() async throws {
        let environment = try await RestoreTests.backedUp(vms: 1)
        defer { environment.remove() }
        // Sorted first, but for another site: it does not apply.
        try await Self.addRule("a-branch-office", sites: ["branch"], bytesPerSecond: 125_000, in: environment)
        try await Self.addRule("wan", sites: ["default"], bytesPerSecond: 2_000_000, in: environment)
        let exports = environment.folder.appendingPathComponent("exports")
        try FileManager.default.createDirectory(at: exports, withIntermediateDirectories: true)
        let started = ContinuousClock.now
        let run = try environment.tidemark(["restore", "export", "lab-vm-01", "--to-folder", exports.path])
        let elapsed = ContinuousClock.now - started
        #expect(run.status == 0, "\(run.output)")
        let applied = try await environment.database.administratorQuery(
            """
            SELECT data->>'rule_name', (data->>'bytes_per_second')::bigint, (data->>'sessions_sharing')::int
              FROM tidemark.events WHERE event_type = 'RestoreThrottleApplied'
            """)
        #expect(applied.rowCount == 1)
        #expect(try applied.decode(0, 0, as: String.self) == "wan")
        #expect(try applied.decode(0, 1, as: Int64.self) == 2_000_000)
        #expect(try applied.decode(0, 2, as: Int32.self) == 1)
        let row = try await environment.database.administratorQuery(
            "SELECT throttle_rule, throttle_bytes_per_second, read_bytes FROM reporting.restores")
        #expect(try row.decode(0, 0, as: String.self) == "wan" && row.decode(0, 1, as: Int64.self) == 2_000_000)
        // The bucket starts empty and holds a second at most: every byte read but the last
        // window's waited for its tokens. A correctness bound, not a speed target.
        let read = try row.decode(0, 2, as: Int64.self)
        #expect(read > 4 << 20)
        #expect(elapsed >= .seconds(Double(read - 2 * 1_048_576) / 2_000_000 * 0.9), "read \(read) bytes in \(elapsed)")
        let restore: String = try await environment.database.administratorQuery("SELECT restore_id FROM reporting.restores").decode(0, 0)
        let replay = try environment.tidemark(["session", "replay", restore])
        #expect(replay.output.contains("throttled by rule 'wan' to 16Mbit/s (1 session under it)"), "\(replay.output)")
    }

    @Test("a rule outside its window, or for another repository's site, leaves a restore unthrottled")
    func notCovered() async throws {
        let environment = try await RestoreTests.backedUp(vms: 1)
        defer { environment.remove() }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .current
        let hour = calendar.component(.hour, from: Date())
        // Two hours starting two hours from now: never now.
        let window = try TimeWindow(parsing: "\((hour + 2) % 24):00-\((hour + 4) % 24):00")
        try await Self.addRule("night", sites: ["default"], bytesPerSecond: 125_000, window: window, in: environment)
        try await Self.addRule("branch", sites: ["branch"], bytesPerSecond: 125_000, in: environment)
        let file = environment.folder.appendingPathComponent("disk.img").path
        let run = try environment.tidemark(["restore", "disk", "--vm", "lab-vm-01", "--disk", "2000", "--to", file])
        #expect(run.status == 0, "\(run.output)")
        let applied = try await environment.database.administratorQuery(
            "SELECT count(*) FROM tidemark.events WHERE event_type = 'RestoreThrottleApplied'")
        #expect(try applied.decode(0, 0, as: Int64.self) == 0)
    }
}
