import EventStore
import Foundation
import Postgres
import Testing
import TestSupport

/// The log's hash chain (migration 0007): every append call chains what it stored, and a
/// superuser's edit, deletion or insertion behind the append functions' back is named by
/// position; a chain recomputed after the forgery no longer matches a head recorded before.
@Suite("Event chain")
struct EventChainTests {
    /// Five events: three appended one by one, two as one batch of two requests.
    static func log() async throws -> (TestDatabase, EventStore) {
        let database = try await TestDatabase.create()
        let store = database.eventStore()
        for number in 0..<3 { try await store.append(to: "job-a", events: [try event("Tested", number)]) }
        _ = try await store.pool.withTransaction { connection in
            try EventStore.append(
                [
                    StreamAppend(stream: "job-b", expectedVersion: .noStream, events: [try event("Tested", 3)]),
                    StreamAppend(stream: "note-c", expectedVersion: .noStream, events: [try event("Tested", 4)]),
                ], on: connection)
        }
        return (database, store)
    }

    @Test("appends of one event, of batches and of several requests are chained, and the chain verifies")
    func chained() async throws {
        let (database, store) = try await Self.log()
        let verification = try await EventChain.verify(store)
        #expect(verification.broken == nil)
        #expect(verification.eventsChecked == 5)
        // Three single appends and one call of two requests: four rows.
        #expect(verification.rowsChecked == 4)
        #expect(verification.head?.position == 5)
        #expect(try await EventChain.head(of: store) == verification.head)
        // From a position inside the log: the rest of the log.
        #expect(try await EventChain.verify(store, after: 3).eventsChecked == 2)
        // The digest the database stores is the one the verifier computes in Swift.
        let row = try await database.administratorQuery(
            "SELECT encode(hash, 'hex') FROM tidemark.event_chain WHERE last_position = 5")
        #expect(try row.decode(0, 0, as: String.self) == verification.head?.hash)
        await store.pool.close()
    }

    @Test("a superuser's edit of one event is named by its position")
    func edited() async throws {
        let (database, store) = try await Self.log()
        try await LogForgery(database).edit(position: 2)
        let broken = try await EventChain.verify(store).broken
        #expect(broken?.position == 2)
        #expect(broken?.kind == .edited)
        await store.pool.close()
    }

    @Test("a deleted event is named by its position")
    func deleted() async throws {
        let (database, store) = try await Self.log()
        try await LogForgery(database).delete(position: 4)
        let broken = try await EventChain.verify(store).broken
        #expect(broken?.position == 4)
        #expect(broken?.kind == .missing)
        await store.pool.close()
    }

    @Test("an event inserted behind the append functions is named, at the end of the log and between appends")
    func inserted() async throws {
        let (database, store) = try await Self.log()
        try await LogForgery(database).insert(stream: "job-a")
        var broken = try await EventChain.verify(store).broken
        #expect(broken?.position == 6)
        #expect(broken?.kind == .unchained)
        // Appends go on; the forged event stays uncovered between their rows.
        try await store.append(to: "job-b", events: [try event("Tested", 9)])
        broken = try await EventChain.verify(store).broken
        #expect(broken?.position == 6)
        #expect(broken?.kind == .unchained)
        await store.pool.close()
    }

    @Test("a rewritten chain row is caught; a chain recomputed from scratch is caught by a head recorded before")
    func rewrittenChain() async throws {
        let (database, store) = try await Self.log()
        let forgery = LogForgery(database)
        try await forgery.run(["UPDATE tidemark.event_chain SET hash = sha256('x') WHERE last_position = 3"])
        #expect(try await EventChain.verify(store).broken?.kind == .chainRewritten)

        let (database2, store2) = try await Self.log()
        let recorded = try #require(try await EventChain.head(of: store2))
        try await LogForgery(database2).editAndRecomputeChain(position: 2)
        // Inside the database the forgery is consistent...
        #expect(try await EventChain.verify(store2).broken == nil)
        // ...but the head recorded outside it no longer matches.
        #expect(try await EventChain.hash(at: recorded.position, in: store2) != recorded.hash)
        await store.pool.close()
        await store2.pool.close()
    }

    @Test("nothing enters the log but through the append functions, not even the owner's INSERT")
    func unchainedInsertRefused() async throws {
        let (database, store) = try await Self.log()
        let error = await #expect(throws: PostgresError.self) {
            try await database.administratorQuery(
                "INSERT INTO tidemark.events (position, stream_id, stream_version, event_id, event_type, data) VALUES (99, 'job-x', 1, gen_random_uuid(), 'Forged', '{}')"
            )
        }
        #expect(error?.code == .unchainedInsert)
        #expect(try await database.eventCount() == 5)
        await store.pool.close()
    }

    @Test("the migration chains an existing log in blocks, gaps in positions included")
    func backfill() async throws {
        let database = try await TestDatabase.create(migrated: false)
        let all = try Migrator.bundled(logger: quietLogger).files
        try await Migrator(files: all.filter { $0.version <= 6 }, logger: quietLogger).migrate(database.administrator)
        let store = database.eventStore()
        for batch in 0..<12 {
            try await store.append(to: try StreamName("job-\(batch)"), events: try events(1_000))
            // A rolled-back append leaves a gap.
            if batch == 5 { try await database.administratorQuery("SELECT nextval('tidemark.event_position_seq')") }
        }
        try await Migrator(files: all, logger: quietLogger).migrate(database.administrator)
        let rows = try await database.administratorQuery(
            "SELECT first_position, last_position FROM tidemark.event_chain ORDER BY last_position")
        // 12,000 events in two contiguous runs of 6,000 (the gap splits them), cut every 5,000 events.
        let ranges = try (0..<rows.rowCount).map { (try rows.decode($0, 0, as: Int64.self), try rows.decode($0, 1, as: Int64.self)) }
        #expect(ranges.map(\.0) == [1, 5_001, 6_002, 10_002])
        #expect(ranges.map(\.1) == [5_000, 6_000, 10_001, 12_001])
        try await store.append(to: "job-after", events: try events(2))
        let verification = try await EventChain.verify(store)
        #expect(verification.broken == nil)
        #expect(verification.eventsChecked == 12_002)
        await store.pool.close()
    }
}
