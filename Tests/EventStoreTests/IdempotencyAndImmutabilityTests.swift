import EventStore
import Foundation
import Postgres
import TestSupport
import Testing

@Suite("Retries and immutability")
struct IdempotencyAndImmutabilityTests {
    @Test("a retried append with the same event ids returns the original positions and writes nothing")
    func idempotentRetry() async throws {
        let database = try await TestDatabase.create()
        let store = database.eventStore()
        let batch = try events(3)
        let original = try await store.append(to: "job-a", expectedVersion: .noStream, events: batch)
        try await store.append(to: "job-b", events: try events(1))
        let retry = try await store.append(to: "job-a", expectedVersion: .noStream, events: batch)
        #expect(retry.wasAlreadyStored)
        #expect(retry.positions == original.positions)
        #expect(retry.streamVersion == 3)
        #expect(try await database.eventCount() == 4)

        // The same ids in another order: the positions follow the order sent.
        let reordered = try await store.append(to: "job-a", events: batch.reversed())
        #expect(reordered.wasAlreadyStored)
        #expect(reordered.positions == original.positions.reversed())
        // Ids stored by two different appends are not "the same append".
        let more = try events(2)
        try await store.append(to: "job-a", events: more)
        let straddling = await #expect(throws: EventStoreError.self) {
            try await store.append(to: "job-a", events: [batch[2], more[0]])
        }
        #expect(straddling?.code == .eventIDConflict)
        // Some ids stored and some new: refused whole.
        let mixed = [batch[0], try event()]
        let mixedError = await #expect(throws: EventStoreError.self) {
            try await store.append(to: "job-a", events: mixed)
        }
        #expect(mixedError?.code == .eventIDConflict)
        // The same ids sent to another stream: refused.
        let elsewhere = await #expect(throws: EventStoreError.self) {
            try await store.append(to: "job-c", events: batch)
        }
        #expect(elsewhere?.code == .eventIDConflict)
        #expect(try await database.eventCount() == 6)
        await store.pool.close()
    }

    @Test("a single retried event (the one-event path) returns its position; its id elsewhere is a conflict")
    func singleEventRetry() async throws {
        let database = try await TestDatabase.create()
        let store = database.eventStore()
        let single = try event()
        let original = try await store.append(to: "job-a", expectedVersion: .noStream, events: [single])
        try await store.append(to: "job-a", events: try events(1))
        let retry = try await store.append(to: "job-a", expectedVersion: .noStream, events: [single])
        #expect(retry.wasAlreadyStored)
        #expect(retry.positions == original.positions)
        #expect(retry.streamVersion == 1)
        let elsewhere = await #expect(throws: EventStoreError.self) {
            try await store.append(to: "job-b", events: [single])
        }
        #expect(elsewhere?.code == .eventIDConflict)
        #expect(try await database.eventCount() == 2)
        await store.pool.close()
    }

    @Test("the service role may not UPDATE, DELETE, TRUNCATE or INSERT around the append function")
    func serviceRoleCannotChangeEvents() async throws {
        let database = try await TestDatabase.create()
        let store = database.eventStore()
        try await store.append(to: "job-a", events: try events(2))
        let pool = database.servicePool(maximumConnections: 1)
        for statement in [
            "UPDATE tidemark.events SET event_type = 'Forged'",
            "DELETE FROM tidemark.events",
            "TRUNCATE tidemark.events",
            "SELECT setval('tidemark.event_position_seq', 1)",
            "INSERT INTO tidemark.events (position, stream_id, stream_version, event_id, event_type, data) VALUES (99, 'job-x', 1, gen_random_uuid(), 'Forged', '{}')",
        ] {
            let error = await #expect(throws: PostgresError.self, "\(statement)") { try await pool.query(statement) }
            #expect(error?.code == .insufficientPrivilege, "\(statement)")
        }
        #expect(try await database.eventCount() == 2)
        await pool.close()
        await store.pool.close()
    }

    @Test("even the owner and a superuser are refused, also with triggers switched to replica mode")
    func superuserCannotChangeEvents() async throws {
        let database = try await TestDatabase.create()
        let store = database.eventStore()
        try await store.append(to: "job-a", events: try events(2))
        let connection = try await PostgresConnection.connect(database.administrator)
        for statement in [
            "UPDATE tidemark.events SET event_type = 'Forged'",
            "DELETE FROM tidemark.events WHERE position = 1",
            "DELETE FROM tidemark.events WHERE false",
            "TRUNCATE tidemark.events",
        ] {
            let error = await #expect(throws: PostgresError.self, "\(statement)") { try await connection.query(statement) }
            #expect(error?.code == .eventLogImmutable, "\(statement)")
            #expect(error?.message.contains("append-only") == true)
        }
        try await connection.execute("SET session_replication_role = replica")
        let replicaError = await #expect(throws: PostgresError.self) {
            try await connection.query("DELETE FROM tidemark.events")
        }
        #expect(replicaError?.code == .eventLogImmutable)
        try await connection.execute("SET ROLE tidemark_owner")
        let ownerError = await #expect(throws: PostgresError.self) {
            try await connection.query("UPDATE tidemark.events SET data = '{}'")
        }
        #expect(ownerError?.code == .eventLogImmutable)
        await connection.close()
        #expect(try await database.eventCount() == 2)
        await store.pool.close()
    }
}
