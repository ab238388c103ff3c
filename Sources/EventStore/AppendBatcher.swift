import Foundation
import Logging
import Postgres

/// One append: events for one stream with the version they expect.
struct AppendRequest: Sendable {
    let stream: StreamName
    let expected: ExpectedVersion
    let events: [NewEvent]
}

/// Group commit: appends that arrive while transactions are in flight wait and go
/// together in the next one.
///
/// The log's write lock (an advisory lock, see 0003) is held until COMMIT, so appends commit
/// one transaction at a time: the WAL flushes of concurrent writers cannot be shared by the
/// server as they are for plain INSERTs. Grouping shares them here instead: one flush serves
/// every request of a batch. Two batches may be in flight at once, so the next batch already
/// waits at the lock while the current one flushes, and the caller that finds a free place
/// leads: it sends batches until its own request is answered, then hands its place to the
/// oldest waiter, so no caller waits for more than the batches ahead of it.
actor AppendBatcher {
    private final class Ticket {
        let request: AppendRequest
        var result: Result<AppendResult, any Error>?
        var continuation: CheckedContinuation<Void, Never>?
        /// Woken to lead, with the place in flight of the leader that woke it.
        var promoted = false
        init(_ request: AppendRequest) { self.request = request }
    }

    private let pool: PostgresPool
    /// Who leads, what goes in a batch, who is answered and who leads next.
    private var machine: AppendBatchStateMachine<Ticket>

    init(pool: PostgresPool, maximumEvents: Int, maximumInFlight: Int) {
        self.pool = pool
        self.machine = AppendBatchStateMachine(maximumEvents: maximumEvents, maximumInFlight: maximumInFlight)
    }

    func append(_ request: AppendRequest) async throws -> AppendResult {
        let ticket = Ticket(request)
        switch machine.appendRequested(ticket, eventCount: request.events.count) {
        case .wait:
            await withCheckedContinuation { ticket.continuation = $0 }
            ticket.continuation = nil
            if !ticket.promoted, let result = ticket.result { return try result.get() }
        case .lead:
            break
        }
        // Leading: this request first, then the oldest waiting ones up to the event limit.
        let batch = machine.batchGathered(leader: ticket, eventCount: request.events.count)
        // Sent from a task of its own: cancelling this caller must not fail the others' requests.
        let requests = batch.map(\.request)
        let results = await Task { await self.send(requests) }.value
        let (answers, next) = machine.batchAnswered(batch, outcomes: results)
        for (waiting, result) in answers {
            waiting.result = result
            waiting.continuation?.resume()
        }
        if case .promote(let leader) = next {
            leader.promoted = true
            leader.continuation?.resume()
        }
        return try ticket.result!.get()
    }

    /// Sends a batch in one call. A batch the server refuses as a whole (not a lost
    /// connection) is split and sent request by request, so one bad request cannot fail
    /// the innocent ones beside it.
    private func send(_ batch: [AppendRequest]) async -> [Result<AppendResult, any Error>] {
        do {
            return try await execute(batch)
        } catch let error as PostgresError where error.kind == .server && batch.count > 1 {
            var results: [Result<AppendResult, any Error>] = []
            for request in batch {
                do {
                    results.append(contentsOf: try await execute([request]))
                } catch {
                    results.append(.failure(EventStoreError.mapping(error, stream: request.stream)))
                }
            }
            return results
        } catch {
            let mapped = batch.count == 1 ? EventStoreError.mapping(error, stream: batch[0].stream) : error
            return Array(repeating: .failure(mapped), count: batch.count)
        }
    }

    private func execute(_ requests: [AppendRequest]) async throws -> [Result<AppendResult, any Error>] {
        let result: PostgresResult
        if requests.count == 1, requests[0].events.count == 1 {
            let request = requests[0]
            let event = request.events[0]
            result = try await pool.query(
                Statements.appendOne,
                [
                    request.stream.rawValue, request.expected.databaseValue, event.id, event.type, Int32(event.schemaVersion),
                    PostgresJSON(text: event.data), PostgresJSON(text: event.metadataJSON),
                ])
        } else {
            result = try await pool.query(Statements.append, Self.arrayParameters(requests))
        }
        return try Self.outcomes(of: requests, in: result)
    }

    /// The general call's parameters: one array per column, events of all requests in order.
    static func arrayParameters(_ requests: [AppendRequest]) -> [any PostgresEncodable] {
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
                metadata.append(PostgresJSON(text: event.metadataJSON))
            }
        }
        return [streams, expected, counts, ids, types, schemaVersions, data, metadata]
    }

    static func outcomes(
        of requests: [AppendRequest], in result: PostgresResult
    ) throws
        -> [Result<AppendResult, any Error>]
    {
        guard result.rowCount == requests.count else {
            throw PostgresError(
                .client, message: "append_events answered \(result.rowCount) rows for \(requests.count) requests",
                statement: Statements.append.name)
        }
        return try (0..<result.rowCount).map { row in
            let request = requests[row]
            let outcome: String = try result.decode(row, 1)
            switch outcome {
            case "appended":
                // The first and last position of a contiguous block.
                let bounds: [Int64] = try result.decode(row, 2)
                guard bounds.count == 2, bounds[1] - bounds[0] + 1 == Int64(request.events.count) else {
                    throw PostgresError(
                        .client, message: "append_events answered positions \(bounds) for \(request.events.count) events",
                        statement: Statements.append.name)
                }
                return .success(
                    AppendResult(
                        positions: Array(bounds[0]...bounds[1]), streamVersion: try result.decode(row, 3),
                        wasAlreadyStored: false))
            case "duplicate":
                return .success(
                    AppendResult(
                        positions: try result.decode(row, 2), streamVersion: try result.decode(row, 3),
                        wasAlreadyStored: true))
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
