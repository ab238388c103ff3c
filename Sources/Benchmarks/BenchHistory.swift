import ArgumentParser
import Catalog
import CatalogStore
import CommandLineSupport
import EventStore
import Foundation
import Identity
import Logging
import Postgres
import Projections
import SyntheticHistory

/// The history the API and console benches measure against: a catalog of jobs and their
/// sessions written as a server would have, projected and vacuumed, every job off so no
/// scheduler starts one, and a viewer's token.
enum BenchHistory {
    /// What a bench measures in: the history written and a `tidemark server` over it.
    struct World {
        let bench: BenchDatabase
        let store: EventStore
        var history: SyntheticHistory
        let token: APIToken
        let setupSeconds: Double
        let server: BenchAPIServer
        /// A scratch folder of the bench's own (the server's data folder is inside).
        let folder: URL
    }

    /// The `--jobs` and `--sessions` both benches take.
    static func validate(jobs: Int, sessions: Int) throws {
        guard (10...100_000).contains(jobs) else { throw ValidationError("--jobs must be between 10 and 100000, not \(jobs)") }
        guard (100...2_000_000).contains(sessions) else {
            throw ValidationError("--sessions must be between 100 and 2000000, not \(sessions)")
        }
    }

    /// A scratch database with the history of `jobs` and `sessions`, a viewer's token, and a
    /// `tidemark server` child process over them for `body`; all of it gone afterwards.
    static func withServer(
        options: GlobalOptions, jobs: Int, sessions: Int, name: String, _ body: (inout World) async throws -> Void
    ) async throws {
        let logger = try options.makeLogger()
        let bench = try await BenchDatabase.create(catalog: try CatalogDatabase(options: options, logger: logger), logger: logger)
        let store = EventStore(
            pool: PostgresPool(.init(settings: bench.service, maximumConnections: 8), logger: logger),
            configuration: .init(readBatchSize: 5_000), logger: logger)
        try await withClosing(store) { store in
            let clock = ContinuousClock()
            let setupStart = clock.now
            var history = SyntheticHistory(seed: 3, jobs: jobs, vmsPerJob: 1, checkpointsPerDisk: 1)
            try await prepare(&history, sessions: sessions, store: store, administrator: bench.administrator, logger: logger)
            let token = try await viewerToken(store)
            let setupSeconds = (clock.now - setupStart).seconds
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
                "tidemark-bench-\(name)-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            let server = try await BenchAPIServer.start(database: bench.service.keywordConnectionString, folder: folder)
            defer { server.stop() }
            var world = World(
                bench: bench, store: store, history: history, token: token, setupSeconds: setupSeconds, server: server, folder: folder)
            try await body(&world)
        }
    }

    /// `sessions` sessions after `history`'s catalog, projected, vacuumed and checkpointed
    /// (the history's dirty pages written out now, not by a checkpoint during the load).
    static func prepare(
        _ history: inout SyntheticHistory, sessions: Int, store: EventStore, administrator: PostgresConnectionSettings, logger: Logger
    ) async throws {
        try await write(&history, sessions: sessions, into: store)
        try await disableJobs(store)
        let vacuum = try await PostgresConnection.connect(administrator, logger: logger)
        _ = try await Projector(store: store, batchSize: 5_000, logger: logger).rebuild(StandardProjections.all)
        try await vacuum.execute("VACUUM (ANALYZE)")
        try await vacuum.execute("CHECKPOINT")
        await vacuum.close()
    }

    /// The catalog, then `sessions` sessions, sixteen appends in flight.
    static func write(_ history: inout SyntheticHistory, sessions: Int, into store: EventStore) async throws {
        for append in try history.catalogAppends() { try await store.append(to: append.stream, events: append.events) }
        var written = 0
        while written < sessions {
            var round: [SyntheticHistory.Append] = []
            for _ in 0..<min(16, sessions - written) { round.append(try history.sessionAppend()) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for append in round { group.addTask { try await store.append(to: append.stream, events: append.events) } }
                try await group.waitForAll()
            }
            written += round.count
        }
    }

    /// Every job off, so the server's scheduler starts nothing while it is measured.
    static func disableJobs(_ store: EventStore) async throws {
        try await CatalogStore(events: store).execute(metadata: EventMetadata(actor: "bench")) { state throws(CatalogError) in
            var plan = CatalogPlan(state)
            for id in state.jobs.keys.sorted() where state.jobs[id]?.definition.enabled == true {
                plan.include(
                    try CatalogDecider.update(id: id, basedOn: nil, in: plan.state) { (job: inout JobDefinition) in job.enabled = false })
            }
            return plan.changes
        }
    }

    /// A viewer `bench` and an hour's token of it.
    static func viewerToken(_ store: EventStore) async throws -> APIToken {
        let identity = IdentityStore(events: store)
        let token = APIToken.generate()
        let now = Date()
        try await identity.execute(metadata: EventMetadata(actor: "bench")) { state throws(IdentityError) in
            try IdentityDecider.addUser("bench", role: .viewer, id: UUID().uuidString.lowercased(), in: state)
        }
        try await identity.execute(metadata: EventMetadata(actor: "bench")) { state throws(IdentityError) in
            try IdentityDecider.issueToken(
                token, id: UUID().uuidString.lowercased(), for: "bench", lifetime: 3_600, label: "bench", now: now, in: state)
        }
        return token
    }
}
