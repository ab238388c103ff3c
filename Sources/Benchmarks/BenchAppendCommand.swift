import ArgumentParser
import CommandLineSupport
import EventStore
import Foundation
import Logging
import Postgres

struct BenchAppendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "append",
        abstract: "Append throughput and latency beside bare INSERT/COMMIT and COPY on the same server.",
        discussion: """
            Cases: one event per append with 1 and 4 concurrent writers (reference: bare INSERT in
            autocommit on as many connections), and batches of 100 events per append (reference: COPY
            of 100 rows per transaction). Durability is the server's default (fsync on). The hash
            chain's cost: each append case again with the chain's statements taken out of the append
            functions in the bench's own database (the reference), in alternating rounds of one second.
            """)
    @OptionGroup var options: GlobalOptions
    @Option(help: "Seconds each case runs.") var seconds: Double = 5
    @Flag(help: "Print {\"cases\":[...]} instead of a table.") var json = false

    func validate() throws {
        guard seconds > 0, seconds <= 600 else { throw ValidationError("--seconds must be above 0 and at most 600, not \(seconds)") }
    }

    func run() async throws {
        let logger = try options.makeLogger()
        let bench = try await BenchDatabase.create(catalog: try CatalogDatabase(options: options, logger: logger), logger: logger)
        let duration = Duration.milliseconds(Int64(seconds * 1_000))
        var cases: [BenchCase] = []
        for writers in [1, 4] {
            let ours = try await appendSingles(bench, tag: "main", writers: writers, for: duration, logger: logger)
            let bare = try await bareSingles(bench, writers: writers, for: duration, logger: logger)
            let label = "append 1 event/txn, \(writers) writer\(writers > 1 ? "s" : "")"
            cases.append(BenchCase(name: label, value: ours.rate, unit: "events/s", reference: bare.rate))
            cases.append(
                BenchCase(
                    name: label + ", p50 latency", value: ours.latency.percentile(0.5), unit: "ms", reference: bare.latency.percentile(0.5))
            )
            cases.append(
                BenchCase(
                    name: label + ", p99 latency", value: ours.latency.percentile(0.99), unit: "ms",
                    reference: bare.latency.percentile(0.99)))
        }
        let batched = try await appendBatches(bench, tag: "main", for: duration, logger: logger)
        let copied = try await bareCopies(bench, for: duration, logger: logger)
        let label = "append 100 events/txn, 1 writer"
        cases.append(BenchCase(name: label, value: batched.rate, unit: "events/s", reference: copied.rate))
        cases.append(
            BenchCase(
                name: label + ", p50 latency", value: batched.latency.percentile(0.5), unit: "ms", reference: copied.latency.percentile(0.5)
            ))
        cases.append(
            BenchCase(
                name: label + ", p99 latency", value: batched.latency.percentile(0.99), unit: "ms",
                reference: copied.latency.percentile(0.99)))

        // The chain's cost: rounds of one second with and without it, alternating, so that the
        // table's growth and the disk's moods fall on both sides alike.
        let rounds = max(2, Int(seconds.rounded()) / 2 * 2)
        for writers in [1, 4] {
            let (chained, unchained) = try await alternating(bench, rounds: rounds, logger: logger) { tag in
                try await appendSingles(bench, tag: tag, writers: writers, for: .seconds(1), logger: logger)
            }
            cases.append(
                BenchCase(
                    name: "hash chain: append 1 event/txn, \(writers) writer\(writers > 1 ? "s" : "")", value: chained.rate,
                    unit: "events/s", reference: unchained.rate))
        }
        let (chained, unchained) = try await alternating(bench, rounds: rounds, logger: logger) { tag in
            try await appendBatches(bench, tag: tag, for: .seconds(1), logger: logger)
        }
        cases.append(BenchCase(name: "hash chain: " + label, value: chained.rate, unit: "events/s", reference: unchained.rate))
        BenchReport.print(
            cases, json: json,
            notes: [
                "reference: bare INSERT ... in autocommit (1-event cases) and COPY of 100 rows per transaction (batch case), same table shape, same server, same run",
                "hash chain: the same appends, reference: the same append functions with the chain's statements taken out (target: at least 95%)",
            ])
    }

    struct Measurement {
        var operations = 0
        var events = 0
        var elapsed = Duration.zero
        var latency = LatencySamples()
        var rate: Double { elapsed == .zero ? 0 : Double(events) / elapsed.seconds }

        mutating func add(_ other: Measurement) {
            operations += other.operations
            events += other.events
            elapsed += other.elapsed
            latency.merge(other.latency)
        }
    }

    /// `tag` keeps each run's streams apart (every run starts its streams at version 0).
    private func appendSingles(
        _ bench: BenchDatabase, tag: String, writers: Int, for duration: Duration, logger: Logger
    ) async throws -> Measurement {
        let store = EventStore(
            pool: PostgresPool(.init(settings: bench.service, maximumConnections: writers), logger: logger), logger: logger)
        let result = try await measure(writers: writers, for: duration, eventsPerOperation: 1) { writer, number in
            let stream = try StreamName("bench-\(tag)-\(writers)w-\(writer)")
            let event = try NewEvent(
                type: "TransferCheckpointed", jsonData: BenchDatabase.sampleData(number), metadata: BenchDatabase.sampleMetadata)
            try await store.append(to: stream, expectedVersion: .exact(Int64(number)), events: [event])
        }
        await store.pool.close()
        return result
    }

    private func bareSingles(_ bench: BenchDatabase, writers: Int, for duration: Duration, logger: Logger) async throws -> Measurement {
        let connections = try await (0..<writers).asyncMap { _ in try await PostgresConnection.connect(bench.administrator, logger: logger)
        }
        let metadata = PostgresJSON(
            text: #"{"actor":"job-manager","causation_id":"\#(UUID())","correlation_id":"\#(UUID())","host":"bench"}"#)
        let result = try await measure(writers: writers, for: duration, eventsPerOperation: 1) { writer, number in
            try await connections[writer].query(
                BenchDatabase.bareInsert,
                [
                    "bare-\(writers)w-\(writer)", Int64(number + 1), UUID(), "TransferCheckpointed",
                    PostgresJSON(text: BenchDatabase.sampleData(number)), metadata,
                ])
        }
        for connection in connections { await connection.close() }
        return result
    }

    private func appendBatches(_ bench: BenchDatabase, tag: String, for duration: Duration, logger: Logger) async throws -> Measurement {
        let store = EventStore(pool: PostgresPool(.init(settings: bench.service, maximumConnections: 1), logger: logger), logger: logger)
        let result = try await measure(writers: 1, for: duration, eventsPerOperation: 100) { _, number in
            let events = try (0..<100).map { index in
                try NewEvent(
                    type: "TransferCheckpointed", jsonData: BenchDatabase.sampleData(number * 100 + index),
                    metadata: BenchDatabase.sampleMetadata)
            }
            try await store.append(to: try StreamName("bench-\(tag)-batch"), expectedVersion: .exact(Int64(number * 100)), events: events)
        }
        await store.pool.close()
        return result
    }

    private func bareCopies(_ bench: BenchDatabase, for duration: Duration, logger: Logger) async throws -> Measurement {
        let connection = try await PostgresConnection.connect(bench.administrator, logger: logger)
        let metadata = #"{"actor":"job-manager","causation_id":"\#(UUID())","correlation_id":"\#(UUID())","host":"bench"}"#
        let result = try await measure(writers: 1, for: duration, eventsPerOperation: 100) { _, number in
            let rows: [[String?]] = (0..<100).map { index in
                [
                    "bare-batch", String(number * 100 + index + 1), UUID().uuidString, "TransferCheckpointed", "1",
                    BenchDatabase.sampleData(number * 100 + index), metadata,
                ]
            }
            try await connection.copyFromStdin(BenchDatabase.bareCopy, rows: rows)
        }
        await connection.close()
        return result
    }

    /// `rounds` rounds of `run` with the hash chain and without it, in the order ABBA...; each
    /// side's figures summed.
    private func alternating(
        _ bench: BenchDatabase, rounds: Int, logger: Logger, _ run: (_ tag: String) async throws -> Measurement
    ) async throws -> (chained: Measurement, unchained: Measurement) {
        var chained = Measurement()
        var unchained = Measurement()
        for round in 0..<rounds {
            // Which side goes first alternates too: a round right after a swap is not the same as the next.
            if round % 2 == 0 { chained.add(try await run("chained-\(round)")) }
            unchained.add(try await bench.withoutHashChain(logger: logger) { try await run("unchained-\(round)") })
            if round % 2 == 1 { chained.add(try await run("chained-\(round)")) }
        }
        return (chained, unchained)
    }

    /// Runs `operation` in a closed loop on each writer until the time is up.
    private func measure(
        writers: Int, for duration: Duration, eventsPerOperation: Int,
        _ operation: @escaping @Sendable (_ writer: Int, _ number: Int) async throws -> Void
    ) async throws -> Measurement {
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + duration
        let perWriter = try await withThrowingTaskGroup(of: Measurement.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    var measurement = Measurement()
                    var number = 0
                    while clock.now < deadline {
                        let began = clock.now
                        try await operation(writer, number)
                        measurement.latency.record(clock.now - began)
                        number += 1
                    }
                    measurement.operations = number
                    return measurement
                }
            }
            return try await group.reduce(into: [Measurement]()) { $0.append($1) }
        }
        var total = Measurement()
        total.elapsed = clock.now - start
        for measurement in perWriter {
            total.operations += measurement.operations
            total.latency.merge(measurement.latency)
        }
        total.events = total.operations * eventsPerOperation
        return total
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
