import EventStore
import Foundation
import Postgres
import TestSupport
import Testing

@Suite("Bad input: a clear error and nothing written")
struct BadInputTests {
    @Test("stream names that are empty, too long or hold spaces are refused with what to change")
    func badStreamNames() throws {
        // Names held in variables: a literal would go through the test-only literal conformance.
        let emptyName = "", spacedName = "job nightly", goodName = "job-nightly"
        let empty = #expect(throws: EventStoreError.self) { try StreamName(emptyName) }
        #expect(empty?.code == .invalidInput)
        #expect(empty?.message.contains("empty") == true)
        let long = #expect(throws: EventStoreError.self) { try StreamName(String(repeating: "x", count: 201)) }
        #expect(long?.message.contains("201") == true)
        #expect(long?.message.contains("200") == true)
        let spaced = #expect(throws: EventStoreError.self) { try StreamName(spacedName) }
        #expect(spaced?.message.contains("space") == true)
        #expect(try StreamName(String(repeating: "x", count: 200)).rawValue.count == 200)
        // 150 characters of 2 code points each: PostgreSQL counts 300.
        let combining = #expect(throws: EventStoreError.self) { try StreamName(String(repeating: "e\u{301}", count: 150)) }
        #expect(combining?.message.contains("300") == true)
        #expect(try StreamName(goodName).category == "job")
    }

    @Test(
        "event data that is not one JSON object is refused before anything is sent, saying where",
        arguments: [
            ("{not json", "expected a quoted key, found 'n' at byte 1"),
            ("[1, 2]", "must be a JSON object"),
            ("\"text\"", "must be a JSON object"),
            ("", "it is empty"),
            (#"{"a": "\u0000"}"#, "\\u0000"),
            (#"{"a": 1,}"#, "expected a quoted key, found '}' at byte 8"),
            (#"{"a": tru}"#, "unexpected 't' at byte 6"),
            (#"{"a": "x\q"}"#, "unknown escape"),
            (#"{"a": 01}"#, "expected ',' or '}'"),
            (#"{"a": 1} {"#, "after the object"),
            (#"{"a": "open"#, "not closed"),
            ("{\"a\": \"tab\there\"}", "control character"),
            (String(repeating: "{\"a\":", count: 250) + "1" + String(repeating: "}", count: 250), "nesting deeper"),
            (#"{"a": "\ud800"}"#, "high surrogate"),
            (#"{"a": "\ud800\u0041"}"#, "high surrogate"),
            (#"{"a": "\udc00"}"#, "low surrogate"),
            (#"{"a": 1e131072}"#, "numeric range"),
            (#"{"a": 1e-16384}"#, "numeric range"),
        ])
    func badJSON(json: String, expectedMessage: String) {
        let error = #expect(throws: EventStoreError.self) { try NewEvent(type: "JobCreated", jsonData: json) }
        #expect(error?.code == .invalidInput)
        #expect(error?.message.contains("JobCreated") == true)
        #expect(error?.message.contains(expectedMessage) == true, "\(error?.message ?? "")")
    }

    @Test(
        "valid JSON objects of every shape are accepted",
        arguments: [
            "{}", " { } ", #"{"a": [1, -2.5e+3, 0, 0.25, true, false, null, {"b": []}]}"#,
            #"{"text": "\"quoted\" \\ \/ \b\f\n\r\t \u00e9 \ud83d\ude00", "ünïcode": "日本"}"#,
            "{\n\t\"spaced\" :\r\n 1E9 }",
        ])
    func goodJSON(json: String) throws {
        _ = try NewEvent(type: "JobCreated", jsonData: json)
        #expect((try? JSONSerialization.jsonObject(with: Data(json.utf8))) != nil)
    }

    @Test("numbers at the edge of PostgreSQL's numeric range are accepted here and by the server")
    func numericRangeEdges() async throws {
        let database = try await TestDatabase.create()
        let store = database.eventStore()
        let edge = try NewEvent(type: "Edge", jsonData: #"{"big": 1e131071, "small": 1e-16383, "surrogates": "\ud83d\ude00"}"#)
        try await store.append(to: "job-edge", events: [edge])
        let stored = try await store.readStream("job-edge")
        #expect(stored.count == 1)
        #expect(stored.first?.data.contains("😀") == true)
        await store.pool.close()
    }

    @Test("event types, schema versions and oversized data are refused")
    func badEventFields() {
        for type in ["", "1Job", "Job Created", String(repeating: "J", count: 101)] {
            let error = #expect(throws: EventStoreError.self) { try NewEvent(type: type, jsonData: "{}") }
            #expect(error?.message.contains("event type") == true)
        }
        #expect(throws: EventStoreError.self) { try NewEvent(type: "JobCreated", jsonData: "{}", schemaVersion: 0) }
        let big = "{\"blob\": \"" + String(repeating: "x", count: NewEvent.maximumDataBytes) + "\"}"
        let bigError = #expect(throws: EventStoreError.self) { try NewEvent(type: "JobCreated", jsonData: big) }
        #expect(bigError?.message.contains("limit") == true)
    }

    @Test("a negative expected version, an empty append and a repeated id append nothing")
    func badAppends() async throws {
        let database = try await TestDatabase.create()
        let store = database.eventStore()
        let negative = await #expect(throws: EventStoreError.self) {
            try await store.append(to: "job-a", expectedVersion: .exact(-1), events: try events(1))
        }
        #expect(negative?.message.contains("negative") == true)
        #expect(throws: EventStoreError.self) { try ExpectedVersion.exactly(-5) }
        let empty = await #expect(throws: EventStoreError.self) {
            try await store.append(to: "job-a", events: [])
        }
        #expect(empty?.message.contains("at least one event") == true)
        let id = UUID()
        let repeated = await #expect(throws: EventStoreError.self) {
            try await store.append(to: "job-a", events: [try event(id: id), try event(id: id)])
        }
        #expect(repeated?.message.contains(id.uuidString) == true)
        #expect(try await database.eventCount() == 0)
        #expect(try await store.headPosition() == 0)
        await store.pool.close()
    }

    @Test("an event store on a database that was never migrated says to run db migrate")
    func unmigratedDatabase() async throws {
        let database = try await TestDatabase.create(migrated: false)
        let store = EventStore(pool: database.administratorPool(), logger: quietLogger)
        let error = await #expect(throws: EventStoreError.self) { try await store.checkSchema() }
        #expect(error?.code == .schemaNotReady)
        #expect(error?.message.contains("tidemark db migrate") == true)
        await store.pool.close()
    }
}
