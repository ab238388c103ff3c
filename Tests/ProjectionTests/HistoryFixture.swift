import Catalog
import CatalogStore
import EventStore
import Foundation
import Projections
import SyntheticHistory
import TestSupport

/// A test database holding a synthetic history: a changing catalog and `sessions` sessions.
struct HistoryFixture {
    let database: TestDatabase
    let store: EventStore
    var history: SyntheticHistory

    static func make(jobs: Int = 6, vmsPerJob: Int = 3) async throws -> HistoryFixture {
        let database = try await TestDatabase.create()
        var fixture = HistoryFixture(
            database: database, store: database.eventStore(),
            history: SyntheticHistory(seed: 7, jobs: jobs, vmsPerJob: vmsPerJob, checkpointsPerDisk: 3))
        for append in try fixture.history.catalogAppends() {
            try await fixture.store.append(to: append.stream, events: append.events)
        }
        return fixture
    }

    /// Appends `count` sessions, catching `projector` up after every `catchUpEvery`.
    mutating func addSessions(_ count: Int, projector: Projector? = nil, catchUpEvery: Int = 5) async throws {
        for index in 1...count {
            let append = try history.sessionAppend()
            try await store.append(to: append.stream, events: append.events)
            if let projector, index % catchUpEvery == 0 { try await projector.catchUp() }
        }
    }

    func count(_ sql: String) async throws -> Int64 {
        try await database.administratorQuery(sql).decode(0, 0)
    }
}
