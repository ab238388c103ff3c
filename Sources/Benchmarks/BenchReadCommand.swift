import ArgumentParser
import CommandLineSupport
import EventStore
import Foundation
import Logging
import Postgres
import PrivateCluster

struct BenchReadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "read",
        abstract: "Read the whole log in order, beside psql's \\copy of the same rows to /dev/null.")
    @OptionGroup var options: GlobalOptions
    @Option(help: "Events written before reading.") var events: Int = 200_000
    @Option(help: "Times each side reads the log; the best run counts.") var runs: Int = 3
    @Flag(help: "Print {\"cases\":[...]} instead of a table.") var json = false

    func validate() throws {
        guard events >= 1_000, events <= 10_000_000 else {
            throw ValidationError("--events must be between 1000 and 10000000, not \(events)")
        }
        guard runs >= 1, runs <= 20 else { throw ValidationError("--runs must be between 1 and 20, not \(runs)") }
    }

    func run() async throws {
        let logger = try options.makeLogger()
        let catalog = try CatalogDatabase(options: options, logger: logger)
        guard let psql = executable(named: "psql") else {
            throw ValidationError(
                "psql is not installed, and the read bench measures its \\copy as the reference: apt-get install postgresql-client")
        }
        let bench = try await BenchDatabase.create(catalog: catalog, logger: logger)
        let store = EventStore(
            pool: PostgresPool(.init(settings: bench.service, maximumConnections: 1), logger: logger),
            configuration: .init(readBatchSize: 10_000), logger: logger)
        try await seed(store)

        let clock = ContinuousClock()
        var ours: [Double] = []
        for _ in 0..<runs {
            let start = clock.now
            var count = 0
            for try await batch in store.logBatches() {
                count += batch.count
            }
            guard count == events else { throw ValidationError("read \(count) events, expected \(events)") }
            ours.append(Double(count) / (clock.now - start).seconds)
        }
        await store.pool.close()

        var bare: [Double] = []
        let copy =
            "\\copy (SELECT \(["position", "stream_id", "stream_version", "event_id", "event_type", "schema_version", "data", "metadata", "recorded_at", "transaction_id"].joined(separator: ", ")) FROM tidemark.events ORDER BY position) TO '/dev/null'"
        let connectionString = bench.administrator.keywordConnectionString
        for _ in 0..<runs {
            let start = clock.now
            let output = try ToolRunner(runAsServerAccount: false).run(
                psql, ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", connectionString, "-c", copy])
            guard output.status == 0 else { throw ValidationError("psql failed: \(output.text)") }
            bare.append(Double(events) / (clock.now - start).seconds)
        }
        BenchReport.print(
            [BenchCase(name: "read whole log in order", value: ours.max()!, unit: "events/s", reference: bare.max()!)],
            json: json,
            notes: [
                "reference: psql \\copy (SELECT ... ORDER BY position) TO '/dev/null', best of \(runs); tidemark decodes every field into RecordedEvent, \(store.configuration.readBatchSize) events per round trip, one batch read ahead"
            ])
    }

    private func seed(_ store: EventStore) async throws {
        var written = 0
        var stream = 0
        while written < events {
            let count = Swift.min(1_000, events - written)
            let batch = try (0..<count).map { index in
                try NewEvent(
                    type: "TransferCheckpointed", jsonData: BenchDatabase.sampleData(written + index),
                    metadata: BenchDatabase.sampleMetadata)
            }
            try await store.append(to: try StreamName("bench-read-\(stream)"), expectedVersion: .noStream, events: batch)
            written += count
            stream += 1
        }
    }
}
