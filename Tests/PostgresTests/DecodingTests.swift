import Foundation
import Postgres
import TestSupport
import Testing

@Suite("Typed values through a real server")
struct DecodingTests {
    @Test("text, integers, bool, uuid, jsonb, bytea, timestamptz and NULL round-trip as parameters")
    func roundTrip() async throws {
        let database = try await TestDatabase.create(migrated: false)
        let connection = try await PostgresConnection.connect(database.administrator)
        let id = UUID()
        let when = Date(timeIntervalSince1970: 1_764_000_000.123456)
        let bytes = Data([0, 1, 2, 254, 255])
        let result = try await connection.query(
            "SELECT $1::text, $2::int8, $3::int4, $4::bool, $5::uuid, $6::jsonb, $7::bytea, $8::timestamptz, $9::text, $10::float8",
            [
                "héllo 'quoted' \"double\" \\ back", Int64.max, Int32.min, true, id,
                PostgresJSON(text: #"{"b": [1, 2], "a": "x"}"#), bytes, when, String?.none, 2.5,
            ])
        #expect(try result.decode(0, 0, as: String.self) == "héllo 'quoted' \"double\" \\ back")
        #expect(try result.decode(0, 1, as: Int64.self) == Int64.max)
        #expect(try result.decode(0, 2, as: Int32.self) == Int32.min)
        #expect(try result.decode(0, 3, as: Bool.self) == true)
        #expect(try result.decode(0, 4, as: UUID.self) == id)
        #expect(try result.decode(0, 5, as: String.self) == #"{"a": "x", "b": [1, 2]}"#)
        #expect(try result.decode(0, 6, as: Data.self) == bytes)
        let decodedDate = try result.decode(0, 7, as: Date.self)
        #expect(abs(decodedDate.timeIntervalSince(when)) < 0.000_001)
        #expect(try result.decodeIfPresent(0, 8, as: String.self) == nil)
        #expect(try result.decode(0, 9, as: Double.self) == 2.5)
        await connection.close()
    }

    @Test("arrays go out and come back")
    func arrays() async throws {
        let database = try await TestDatabase.create(migrated: false)
        let connection = try await PostgresConnection.connect(database.administrator)
        let texts = ["a,b", "c\"d", "e\\f", "{g}", "NULL", ""]
        let result = try await connection.query(
            "SELECT cardinality($1::text[]), ($1::text[])[2], ($1::text[])[5], $2::int8[]",
            [texts, [Int64(1), -2, 3]])
        #expect(try result.decode(0, 0, as: Int.self) == texts.count)
        #expect(try result.decode(0, 1, as: String.self) == "c\"d")
        #expect(try result.decode(0, 2, as: String.self) == "NULL")
        #expect(try result.decode(0, 3, as: [Int64].self) == [1, -2, 3])
        let withNull = try await connection.query(
            "SELECT cardinality($1::text[]), ($1::text[])[2] IS NULL, ($1::text[])[3], $2::uuid[]",
            [["a", nil, "NULL"] as [String?], [UUID?.none, UUID()]])
        #expect(try withNull.decode(0, 0, as: Int.self) == 3)
        #expect(try withNull.decode(0, 1, as: Bool.self))
        #expect(try withNull.decode(0, 2, as: String.self) == "NULL")
        #expect(throws: PostgresError.self) { try withNull.decode(0, 3, as: [UUID].self) }
        await connection.close()
    }

    @Test("a value that would be SQL is stored as text, never run")
    func parametersAreNeverSQL() async throws {
        let database = try await TestDatabase.create(migrated: false)
        let connection = try await PostgresConnection.connect(database.administrator)
        try await connection.execute("CREATE TABLE notes (body text)")
        let hostile = "x'); DROP TABLE notes; --"
        try await connection.query("INSERT INTO notes VALUES ($1)", [hostile])
        let stored = try await connection.query("SELECT body FROM notes")
        #expect(try stored.decode(0, 0, as: String.self) == hostile)
        await connection.close()
    }

    @Test("decoding a NULL or a wrong type names the column")
    func decodingErrors() async throws {
        let database = try await TestDatabase.create(migrated: false)
        let connection = try await PostgresConnection.connect(database.administrator)
        let result = try await connection.query("SELECT NULL::int AS missing, 'abc'::text AS word")
        let nullError = #expect(throws: PostgresError.self) { try result.decode(0, 0, as: Int.self) }
        #expect(nullError?.message.contains("missing") == true)
        let typeError = #expect(throws: PostgresError.self) { try result.decode(0, 1, as: Int.self) }
        #expect(typeError?.kind == .decoding)
        #expect(typeError?.message.contains("word") == true)
        await connection.close()
    }

    @Test("a NUL character in a parameter is refused before it is sent")
    func nulCharacterRefused() async throws {
        let database = try await TestDatabase.create(migrated: false)
        let connection = try await PostgresConnection.connect(database.administrator)
        let error = await #expect(throws: PostgresError.self) {
            try await connection.query("SELECT $1::text", ["a\u{0}b"])
        }
        #expect(error?.kind == .invalidInput)
        #expect(error?.message.contains("$1") == true)
        // After other parameters were already prepared for sending.
        let second = await #expect(throws: PostgresError.self) {
            try await connection.query("SELECT $1::text, $2::text, $3::bytea", ["fine", "a\u{0}b", Data([1])])
        }
        #expect(second?.message.contains("$2") == true)
        #expect(try await connection.query("SELECT 1").decode(0, 0, as: Int.self) == 1)
        await connection.close()
    }
}

@Suite("timestamptz text")
struct TimestampTextTests {
    @Test(
        "ISO text with offsets parses to the same instant",
        arguments: [
            ("2026-11-25 14:52:46.5+00", 1_795_618_366.5),
            ("2026-11-25 16:52:46.5+02", 1_795_618_366.5),
            ("2026-11-25 09:22:46.5-05:30", 1_795_618_366.5),
            ("1970-01-01 00:00:00+00", 0),
        ])
    func parses(text: String, expected: Double) async throws {
        let database = try await TestDatabase.create(migrated: false)
        let connection = try await PostgresConnection.connect(database.administrator)
        let result = try await connection.query("SELECT $1::text", [text])
        let date = try result.decode(0, 0, as: Date.self)
        #expect(abs(date.timeIntervalSince1970 - expected) < 0.000_001)
        await connection.close()
    }
}
