import Foundation
import Postgres

/// Events for one stream, appended together with others in one transaction.
public struct StreamAppend: Sendable {
    public let stream: StreamName
    public let expectedVersion: ExpectedVersion
    public let events: [NewEvent]

    public init(stream: StreamName, expectedVersion: ExpectedVersion, events: [NewEvent]) {
        self.stream = stream
        self.expectedVersion = expectedVersion
        self.events = events
    }
}

extension EventStore {
    /// Appends to several streams inside the caller's transaction, so that they land with
    /// whatever else the transaction does (a check made under a lock it holds): all of them
    /// or, when one stream's version or ids are refused, none — the error is thrown and the
    /// caller's transaction must roll back. Bypasses group commit; meant for commands, not
    /// for hot paths.
    public static func append(_ appends: [StreamAppend], on connection: isolated PostgresConnection) throws -> [AppendResult] {
        guard !appends.isEmpty else { return [] }
        var requests: [AppendRequest] = []
        for append in appends {
            guard !append.events.isEmpty else {
                throw EventStoreError.invalid("an append to '\(append.stream)' needs at least one event", stream: append.stream.rawValue)
            }
            requests.append(AppendRequest(stream: append.stream, expected: append.expectedVersion, events: append.events))
        }
        let result: PostgresResult
        do {
            result = try connection.query(Statements.append, AppendBatcher.arrayParameters(requests))
        } catch {
            throw EventStoreError.mapping(error, stream: requests.count == 1 ? requests[0].stream : nil)
        }
        return try AppendBatcher.outcomes(of: requests, in: result).map { try $0.get() }
    }

    /// Reads events after `position` (through `last`), of the given categories, recorded no
    /// later than `recordedBy`, on the caller's connection (inside its transaction).
    public static func read(
        after position: Int64, through last: Int64 = .max, categories: [String], recordedBy: Date? = nil, limit: Int,
        on connection: isolated PostgresConnection
    ) throws -> [RecordedEvent] {
        let result = try connection.query(Statements.categoriesForward, [position, last, categories, recordedBy, limit])
        return try RecordedEvent.all(in: result)
    }
}
