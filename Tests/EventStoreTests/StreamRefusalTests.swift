import EventStore
import Foundation
import Postgres
import TestSupport
import Testing

/// What the append functions refuse even from the service role (migration 0007): categories
/// Tidemark does not write, Tidemark streams of the wrong shape or holding foreign event
/// types, and events over 1 MiB; and the names the store refuses before sending anything.
@Suite("Stream refusals and input limits")
struct StreamRefusalTests {
    static let uuid = "3f2b8c1e-4d5a-4b6c-8d7e-9f0a1b2c3d4e"

    @Test(
        "the database refuses forged session, schedule and control streams and unknown categories, through append_event as the service role",
        arguments: [
            ("session-1", "SessionStarted", "session streams are named session-<uuid>"),
            ("session-\(uuid)", "RestorePointCreated", "a session stream starts with SessionStarted"),
            ("schedule-1", "RunSkipped", "schedule streams are named schedule-<uuid>"),
            ("schedule-\(uuid)", "JobAdded", "schedule streams hold only RunRequested, RunSkipped events"),
            ("control-\(uuid)", "SessionFinished", "control streams hold only StopRequested events"),
            ("orders-1", "OrderPlaced", "its category 'orders' is not one Tidemark writes"),
        ] as [(String, String, String)])
    func refusedInDatabase(stream: String, type: String, reason: String) async throws {
        let database = try await TestDatabase.create()
        let pool = database.servicePool(maximumConnections: 1)
        let error = await #expect(throws: PostgresError.self) {
            try await pool.query(
                "SELECT * FROM tidemark.append_event($1, -1, gen_random_uuid(), $2, 1, $3, '{}')",
                [stream, type, PostgresJSON(text: #"{"scheduled_for": "2099-01-01T00:00:00Z"}"#)])
        }
        #expect(error?.code == .streamRefused)
        #expect(error?.message.contains(reason) == true, "\(error?.message ?? "")")
        #expect(try await database.eventCount() == 0)
        await pool.close()
    }

    @Test("through the event store the refusal is a streamRefused error, and a batch's other requests still land")
    func refusedThroughStore() async throws {
        let database = try await TestDatabase.create()
        let store = database.eventStore()
        let error = await #expect(throws: EventStoreError.self) {
            try await store.append(to: "orders-1", events: [try event()])
        }
        #expect(error?.code == .streamRefused)
        #expect(error?.stream == "orders-1")
        // Concurrent appends share a call; the refused one is split off.
        async let good = store.append(to: "note-ok", events: try events(2))
        async let bad: EventStoreError? = {
            do {
                try await store.append(to: "schedule-x", events: [try event()])
                return nil
            } catch {
                return error as? EventStoreError
            }
        }()
        #expect(try await good.positions.count == 2)
        #expect(await bad?.code == .streamRefused)
        #expect(try await database.eventCount() == 2)
        await store.pool.close()
    }

    @Test("the database refuses an event over 1 MiB (data and metadata), through both functions, and the store says so")
    func tooLarge() async throws {
        let database = try await TestDatabase.create()
        let pool = database.servicePool(maximumConnections: 1)
        let big = PostgresJSON(text: #"{"a": ""# + String(repeating: "x", count: 1 << 20) + #""}"#)
        let single = await #expect(throws: PostgresError.self) {
            try await pool.query("SELECT * FROM tidemark.append_event('note-big', -1, gen_random_uuid(), 'Big', 1, $1, '{}')", [big])
        }
        #expect(single?.code == .eventTooLarge)
        let batch = await #expect(throws: PostgresError.self) {
            try await pool.query(
                "SELECT * FROM tidemark.append_events(ARRAY['note-big'], ARRAY[-1::bigint], ARRAY[1], ARRAY[gen_random_uuid()], ARRAY['Big'], ARRAY[1], ARRAY[$1::jsonb], ARRAY['{}'::jsonb])",
                [big])
        }
        #expect(batch?.code == .eventTooLarge)
        await pool.close()
        // JSON the store lets through (under 1 MiB as sent) that is over 1 MiB as stored:
        // PostgreSQL writes ", " between array elements where the sender wrote ",".
        let store = database.eventStore()
        let ones = "[" + Array(repeating: "1", count: 400_000).joined(separator: ",") + "]"
        let event = try NewEvent(type: "Big", jsonData: #"{"a": \#(ones)}"#)
        let error = await #expect(throws: EventStoreError.self) { try await store.append(to: "note-big", events: [event]) }
        #expect(error?.code == .eventTooLarge)
        #expect(try await database.eventCount() == 0)
        await store.pool.close()
    }

    @Test("stream names with bidirectional overrides, zero-width or separator characters are refused, and the message escapes them")
    func invisibleCharactersInStreamNames() throws {
        for name in ["note-nightly\u{202E}gpj.exe", "note-a\u{200B}b", "note-a\u{2028}b", "note-\u{1B}[2Jx", "note-\u{2066}x"] {
            let error = #expect(throws: EventStoreError.self) { try StreamName(name) }
            #expect(error?.description.contains("\\u{") == true, "\(name)")
            #expect(
                error?.description.unicodeScalars.contains {
                    $0.properties.generalCategory == .format || $0.value == 0x1B || $0.value == 0x2028
                } == false)
        }
    }

    @Test("an event type with control characters is echoed escaped")
    func escapedEventType() {
        let error = #expect(throws: EventStoreError.self) { try NewEvent(type: "Bad\u{1B}[31m", jsonData: "{}") }
        #expect(error?.description.contains("\\u{1B}") == true)
        #expect(error?.description.contains("\u{1B}") == false)
    }
}
