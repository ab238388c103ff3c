import EventStore
import Foundation
import Postgres
import TestSupport
import Testing

@Suite("Appending and reading")
struct AppendTests {
    @Test("events get stream versions from 1 and consecutive global positions; streams read both ways")
    func appendAndRead() async throws {
        let database = try await TestDatabase.create()
        let store = database.eventStore()
        let first = try await store.append(to: "job-a", expectedVersion: .noStream, events: try events(3))
        #expect(first.positions == [1, 2, 3])
        #expect(first.streamVersion == 3)
        let second = try await store.append(to: "job-b", expectedVersion: .noStream, events: try events(1))
        #expect(second.positions == [4])
        try await store.append(to: "job-a", expectedVersion: .exact(3), events: try events(2))

        let forward = try await store.readStream("job-a")
        #expect(forward.map(\.streamVersion) == [1, 2, 3, 4, 5])
        #expect(forward.map(\.position) == [1, 2, 3, 5, 6])
        let backward = try await store.readStream("job-a", from: 4, direction: .backward, limit: 2)
        #expect(backward.map(\.streamVersion) == [4, 3])
        let fromThree = try await store.readStream("job-a", from: 3)
        #expect(fromThree.map(\.streamVersion) == [3, 4, 5])
        #expect(try await store.streamVersion("job-a") == 5)
        #expect(try await store.streamVersion("job-missing") == 0)
        #expect(try await store.headPosition() == 6)

        let all = try await store.readAll(after: 2, limit: 3)
        #expect(all.map(\.position) == [3, 4, 5])
        let decoded = try forward[0].decode([String: Int].self)
        #expect(decoded == ["n": 0])
        #expect(try forward[0].metadata().actor == "test")
        await store.pool.close()
    }

    @Test("a category read returns every stream of the category in position order")
    func categoryRead() async throws {
        let database = try await TestDatabase.create()
        let store = database.eventStore()
        try await store.append(to: "job-a", events: try events(2))
        try await store.append(to: "note-x", events: try events(1))
        try await store.append(to: "job-b", events: try events(1))
        try await store.append(to: "custom-jobs", events: try events(1))
        let jobs = try await store.readCategory("job")
        #expect(jobs.map(\.stream) == ["job-a", "job-a", "job-b"])
        #expect(jobs.map(\.position) == [1, 2, 4])
        #expect(try await store.readCategory("job", after: 2).map(\.position) == [4])
        await store.pool.close()
    }

    @Test("expected versions: each kind passes and fails as documented, and a failure writes nothing")
    func expectedVersions() async throws {
        let database = try await TestDatabase.create()
        let store = database.eventStore()
        let existsError = await #expect(throws: EventStoreError.self) {
            try await store.append(to: "job-a", expectedVersion: .streamExists, events: try events(1))
        }
        #expect(existsError?.code == .wrongExpectedVersion)
        #expect(existsError?.actualVersion == 0)
        try await store.append(to: "job-a", expectedVersion: .noStream, events: try events(2))
        let noStreamError = await #expect(throws: EventStoreError.self) {
            try await store.append(to: "job-a", expectedVersion: .noStream, events: try events(1))
        }
        #expect(noStreamError?.actualVersion == 2)
        let exactError = await #expect(throws: EventStoreError.self) {
            try await store.append(to: "job-a", expectedVersion: .exact(1), events: try events(1))
        }
        #expect(exactError?.code == .wrongExpectedVersion)
        #expect(exactError?.stream == "job-a")
        #expect(exactError?.expected == .exact(1))
        #expect(exactError?.actualVersion == 2)
        #expect(exactError?.description.contains("job-a") == true)
        #expect(exactError?.description.contains("version 1") == true)
        #expect(exactError?.description.contains("version 2") == true)
        try await store.append(to: "job-a", expectedVersion: .streamExists, events: try events(1))
        try await store.append(to: "job-a", expectedVersion: .any, events: try events(1))
        #expect(try await database.eventCount() == 4)
        await store.pool.close()
    }

    @Test("two writers with the same expected version: exactly one wins, the other is told, nothing else is written")
    func concurrentWritersOneWins() async throws {
        let database = try await TestDatabase.create()
        // Two stores: two processes' worth of writers, no shared batching.
        let storeA = database.eventStore()
        let storeB = database.eventStore()
        try await storeA.append(to: "job-race", expectedVersion: .noStream, events: try events(1))
        for round in 0..<10 {
            let version = Int64(1 + round)
            async let a = Result(catching: {
                try await storeA.append(to: "job-race", expectedVersion: .exact(version), events: try events(1))
            })
            async let b = Result(catching: {
                try await storeB.append(to: "job-race", expectedVersion: .exact(version), events: try events(1))
            })
            let outcomes = await [a, b]
            let winners = outcomes.filter { if case .success = $0 { true } else { false } }
            #expect(winners.count == 1)
            for case .failure(let error) in outcomes {
                let storeError = try #require(error as? EventStoreError)
                #expect(storeError.code == .wrongExpectedVersion)
                #expect(storeError.actualVersion == version + 1)
            }
        }
        #expect(try await storeA.streamVersion("job-race") == 11)
        #expect(try await database.eventCount() == 11)
        await storeA.pool.close()
        await storeB.pool.close()
    }

    @Test("many concurrent appends through one store are grouped yet each gets its own contiguous positions")
    func groupCommit() async throws {
        let database = try await TestDatabase.create()
        let store = database.eventStore()
        let results = try await withThrowingTaskGroup(of: AppendResult.self) { group in
            for writer in 0..<40 {
                group.addTask {
                    try await store.append(
                        to: try StreamName("job-\(writer)"), expectedVersion: .noStream, events: try events(1 + writer % 3))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let positions = results.flatMap(\.positions).sorted()
        #expect(positions == Array(1...Int64(positions.count)))
        for result in results {
            #expect(result.positions == Array(result.positions.first!...result.positions.last!))
        }
        await store.pool.close()
    }
}

extension AppendTests {
    @Test("in one grouped call, a request with a stale version fails alone and the others are written")
    func groupedRequestsFailAlone() async throws {
        let database = try await TestDatabase.create()
        let store = database.eventStore(configuration: .init(maximumBatchesInFlight: 1, pollInterval: .milliseconds(200)))
        try await store.append(to: "job-shared", expectedVersion: .noStream, events: try events(1))
        let outcomes = await withTaskGroup(of: (Int, Result<AppendResult, any Error>).self) { group in
            for writer in 0..<30 {
                group.addTask {
                    // Every third writer expects a version the shared stream never had.
                    let stale = writer % 3 == 0
                    let stream = stale ? "job-shared" : "job-own-\(writer)"
                    let outcome = await Result(catching: {
                        try await store.append(
                            to: try StreamName(stream), expectedVersion: stale ? .exact(99) : .noStream, events: try events(2))
                    })
                    return (writer, outcome)
                }
            }
            return await group.reduce(into: [Int: Result<AppendResult, any Error>]()) { $0[$1.0] = $1.1 }
        }
        for (writer, outcome) in outcomes {
            switch (writer % 3 == 0, outcome) {
            case (true, .failure(let error)):
                #expect((error as? EventStoreError)?.actualVersion == 1)
            case (false, .success(let result)):
                #expect(result.positions.count == 2)
            default:
                Issue.record("writer \(writer): unexpected \(outcome)")
            }
        }
        #expect(try await database.eventCount() == 1 + 20 * 2)
        await store.pool.close()
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
