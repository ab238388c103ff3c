import Foundation
import Logging
import Postgres

/// One append: events for one stream with the version they expect.
struct AppendRequest: Sendable {
    let stream: StreamName
    let expected: ExpectedVersion
    let events: [NewEvent]
}

/// Group commit: appends that arrive while a transaction is in flight wait and go
/// together in the next one.
///
/// The log's write lock (the `log_head` row) is held until COMMIT, so appends commit one
/// transaction at a time. Without grouping, four writers would wait for four WAL flushes in
/// a row; grouped, one flush serves all four. The first caller to find no flush in flight
/// leads: it sends batches until its own request is answered, then hands the lead to the
/// next waiter, so no caller waits for more than the batches ahead of it.
actor AppendBatcher {
    private final class Ticket {
        let request: AppendRequest
        var result: Result<AppendResult, any Error>?
        var continuation: CheckedContinuation<Void, Never>?
        init(_ request: AppendRequest) { self.request = request }
    }

    private let pool: PostgresPool
    private let maximumEvents: Int
    private let logger: Logger
    private var queue: [Ticket] = []
    private var leading = false

    init(pool: PostgresPool, maximumEvents: Int, logger: Logger) {
        self.pool = pool
        self.maximumEvents = maximumEvents
        self.logger = logger
    }

    func append(_ request: AppendRequest) async throws -> AppendResult {
        let ticket = Ticket(request)
        queue.append(ticket)
        if leading {
            await withCheckedContinuation { ticket.continuation = $0 }
            if let result = ticket.result { return try result.get() }
            // Woken without a result: the lead was handed to this caller.
        } else {
            leading = true
        }
        while ticket.result == nil {
            let batch = takeBatch()
            let results = await send(batch)
            for (waiting, result) in zip(batch, results) {
                waiting.result = result
                if waiting !== ticket { waiting.continuation?.resume() }
            }
        }
        if let next = queue.first {
            next.continuation?.resume()
        } else {
            leading = false
        }
        return try ticket.result!.get()
    }

    /// The oldest waiting requests, up to the event limit (always at least one).
    private func takeBatch() -> [Ticket] {
        var count = 0
        var taken = 0
        for ticket in queue {
            if taken > 0 && count + ticket.request.events.count > maximumEvents { break }
            count += ticket.request.events.count
            taken += 1
        }
        let batch = Array(queue.prefix(taken))
        queue.removeFirst(taken)
        return batch
    }

    /// Sends a batch in one call. A batch the server refuses as a whole (not a lost
    /// connection) is split and sent request by request, so one bad request cannot fail
    /// the innocent ones beside it.
    private func send(_ batch: [Ticket]) async -> [Result<AppendResult, any Error>] {
        do {
            return try await execute(batch.map(\.request))
        } catch let error as PostgresError where error.kind == .server && batch.count > 1 {
            var results: [Result<AppendResult, any Error>] = []
            for ticket in batch {
                do {
                    results.append(contentsOf: try await execute([ticket.request]))
                } catch {
                    results.append(.failure(error))
                }
            }
            return results
        } catch {
            return Array(repeating: .failure(error), count: batch.count)
        }
    }

    private func execute(_ requests: [AppendRequest]) async throws -> [Result<AppendResult, any Error>] {
        var streams: [String] = []
        var expected: [Int64] = []
        var counts: [Int32] = []
        var ids: [UUID] = []
        var types: [String] = []
        var schemaVersions: [Int32] = []
        var data: [PostgresJSON] = []
        var metadata: [PostgresJSON] = []
        for request in requests {
            streams.append(request.stream.rawValue)
            expected.append(request.expected.databaseValue)
            counts.append(Int32(request.events.count))
            for event in request.events {
                ids.append(event.id)
                types.append(event.type)
                schemaVersions.append(Int32(event.schemaVersion))
                data.append(PostgresJSON(text: event.data))
                metadata.append(PostgresJSON(text: event.metadata.jsonText))
            }
        }
        let parameters: [any PostgresEncodable] = [streams, expected, counts, ids, types, schemaVersions, data, metadata]
        let result = try await pool.query(Statements.append, parameters)
        guard result.rowCount == requests.count else {
            throw PostgresError(
                .client, message: "append_events answered \(result.rowCount) rows for \(requests.count) requests",
                statement: Statements.append.name)
        }
        return try (0..<result.rowCount).map { row in
            let request = requests[row]
            let outcome: String = try result.decode(row, 1)
            switch outcome {
            case "appended", "duplicate":
                return .success(
                    AppendResult(
                        positions: try result.decode(row, 2), streamVersion: try result.decode(row, 3),
                        wasAlreadyStored: outcome == "duplicate"))
            case "wrong_expected_version":
                let actual: Int64 = try result.decode(row, 3)
                return .failure(
                    EventStoreError(
                        .wrongExpectedVersion,
                        "stream '\(request.stream)' was expected at \(request.expected) but is at version \(actual): read the stream again and retry with .exact(\(actual)) if the change still applies",
                        stream: request.stream.rawValue, expected: request.expected, actualVersion: actual))
            case "id_conflict":
                return .failure(
                    EventStoreError(
                        .eventIDConflict,
                        "some event ids of this append to '\(request.stream)' are already stored, but not as this same append (other ids, or another stream): use new ids for new events",
                        stream: request.stream.rawValue))
            default:
                throw PostgresError(
                    .client, message: "append_events answered an unknown outcome '\(outcome)'",
                    statement: Statements.append.name)
            }
        }
    }
}
