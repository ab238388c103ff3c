import Foundation
import Postgres

/// An event as the log holds it.
///
/// `data` and `metadata` stay JSON text until someone asks for them decoded: reading the
/// whole log for a projection rebuild should not pay for a JSON parse per event it skips.
public struct RecordedEvent: Sendable, Equatable {
    /// Global position, commit-ordered: every event a reader sees later has a higher one.
    public let position: Int64
    public let stream: String
    /// 1 for the stream's first event.
    public let streamVersion: Int64
    public let id: UUID
    public let type: String
    public let schemaVersion: Int
    /// JSON object text, as jsonb prints it.
    public let data: String
    /// JSON object text of the `EventMetadata`.
    public let metadataJSON: String
    public let recordedAt: Date
    /// The id (xid8) of the transaction that wrote it; for audits, never for ordering.
    public let transactionID: Int64

    /// Decodes the data into a Codable type.
    public func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(T.self, from: Data(data.utf8))
    }

    /// Decodes the metadata.
    public func metadata() throws -> EventMetadata {
        try JSONDecoder().decode(EventMetadata.self, from: Data(metadataJSON.utf8))
    }

    /// The column list every read selects, in the order `init(row:)` decodes.
    public static let columns =
        "position, stream_id, stream_version, event_id, event_type, schema_version, data, metadata, recorded_at, transaction_id"

    init(_ result: PostgresResult, row: Int) throws {
        position = try result.decode(row, 0)
        stream = try result.decode(row, 1)
        streamVersion = try result.decode(row, 2)
        id = try result.decode(row, 3)
        type = try result.decode(row, 4)
        schemaVersion = try result.decode(row, 5)
        data = try result.decode(row, 6)
        metadataJSON = try result.decode(row, 7)
        recordedAt = try result.decode(row, 8)
        transactionID = try result.decode(row, 9)
    }

    /// Decodes the rows of a query that selected `columns`, for readers with SQL of their own.
    public static func all(in result: PostgresResult) throws -> [RecordedEvent] {
        var events: [RecordedEvent] = []
        events.reserveCapacity(result.rowCount)
        for row in 0..<result.rowCount {
            events.append(try RecordedEvent(result, row: row))
        }
        return events
    }
}

/// What an append did.
public struct AppendResult: Sendable, Equatable {
    /// The positions of the appended events, in the order given.
    public let positions: [Int64]
    /// The stream's version after the append (its event count).
    public let streamVersion: Int64
    /// True when these event ids were stored by an earlier append and nothing was written now.
    public let wasAlreadyStored: Bool
}
