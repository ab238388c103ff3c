import Crypto
import EventStore
import Foundation
import Postgres
import TestSupport
import Testing

/// The log's hash chain (migration 0007): every event's hash covers its content and the hash
/// of the event before it, and a superuser's edit, deletion, insertion or rewritten link
/// behind the append functions' back is named by position; a chain recomputed after the
/// forgery no longer matches a head recorded before.
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

    @Test("appends of one event, of batches and of several requests are chained event by event, and the chain verifies")
    func chained() async throws {
        let (database, store) = try await Self.log()
        let verification = try await EventChain.verify(store)
        #expect(verification.broken == nil)
        #expect(verification.eventsChecked == 5)
        #expect(verification.head?.position == 5)
        #expect(try await EventChain.head(of: store) == verification.head)
        // From a position inside the log: the rest of the log.
        #expect(try await EventChain.verify(store, after: 3).eventsChecked == 2)
        // Each event's hash is sha256(the hash before it || sha256(its canonical text)),
        // recomputed here from the columns alone.
        let rows = try await database.administratorQuery(
            """
            SELECT position::text || E'\\n' || stream_id || E'\\n' || stream_version::text || E'\\n' || event_id::text
                   || E'\\n' || event_type || E'\\n' || schema_version::text
                   || E'\\n' || ((extract(epoch FROM recorded_at) * 1000000)::bigint)::text
                   || E'\\n' || data::text || E'\\n' || metadata::text,
                   encode(chain_hash, 'hex')
              FROM tidemark.events ORDER BY position
            """)
        var previous = [UInt8](repeating: 0, count: 32)
        for row in 0..<rows.rowCount {
            var hasher = SHA256()
            hasher.update(data: previous)
            hasher.update(data: Array(SHA256.hash(data: Array(try rows.decode(row, 0, as: String.self).utf8))))
            previous = Array(hasher.finalize())
            #expect(previous.map { String(format: "%02x", $0) }.joined() == (try rows.decode(row, 1, as: String.self)))
        }
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
        // Appends go on, linked to the forged event; it stays named.
        try await store.append(to: "job-b", events: [try event("Tested", 9)])
        broken = try await EventChain.verify(store).broken
        #expect(broken?.position == 6)
        #expect(broken?.kind == .unchained)
        await store.pool.close()
    }

    @Test("an event slipped in between two appended events is named by its position")
    func insertedBetween() async throws {
        let (database, store) = try await Self.log()
        // The forger renumbers nothing: the event goes into a gap a rolled-back append left.
        try await database.administratorQuery("SELECT nextval('tidemark.event_position_seq')")
        try await store.append(to: "job-b", events: [try event("Tested", 7)])
        try await LogForgery(database).run([
            """
            INSERT INTO tidemark.events (position, stream_id, stream_version, event_id, event_type, recorded_at, data, digest, chain_hash)
            SELECT 6, 'note-x', 1, f.event_id, 'Forged', f.at, '{}',
                   tidemark.event_digest(6, 'note-x', 1, f.event_id, 'Forged', 1, f.at, '{}', '{}'),
                   sha256((SELECT chain_hash FROM tidemark.events WHERE position = 5)
                          || tidemark.event_digest(6, 'note-x', 1, f.event_id, 'Forged', 1, f.at, '{}', '{}'))
              FROM (SELECT gen_random_uuid() AS event_id, clock_timestamp() AS at) AS f
            """
        ])
        let broken = try await EventChain.verify(store).broken
        #expect(broken?.position == 6)
        #expect(broken?.kind == .unchained)
        await store.pool.close()
    }

    @Test("a rewritten link is caught; a chain recomputed from scratch is caught by a head recorded before")
    func rewrittenChain() async throws {
        let (database, store) = try await Self.log()
        try await LogForgery(database).rewriteLink(position: 3)
        let broken = try await EventChain.verify(store).broken
        #expect(broken?.kind == .chainRewritten)
        #expect(broken?.position == 3)

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

    @Test("the migration chains an existing log event by event, gaps in positions included")
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
        let unchained = try await database.administratorQuery(
            "SELECT count(*) FROM tidemark.events WHERE digest IS NULL OR chain_hash IS NULL")
        #expect(try unchained.decode(0, 0, as: Int64.self) == 0)
        try await store.append(to: "job-after", events: try events(2))
        let verification = try await EventChain.verify(store)
        #expect(verification.broken == nil)
        #expect(verification.eventsChecked == 12_002)
        #expect(verification.head?.position == 12_003)
        // The immutability trigger the backfill switched off for itself is on again.
        await #expect(throws: PostgresError.self) {
            try await database.administratorQuery("UPDATE tidemark.events SET data = '{}' WHERE position = 1")
        }
        await store.pool.close()
    }
}
