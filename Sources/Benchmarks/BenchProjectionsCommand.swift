import ArgumentParser
import CommandLineSupport
import EventStore
import Foundation
import Logging
import Postgres
import Projections
import Synchronization
import SyntheticHistory

struct BenchProjectionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "projections",
        abstract: "Rebuild every projection from a synthetic history, and measure a live projection's lag under a steady writer.")
    @OptionGroup var options: GlobalOptions
    @Option(help: "Events of history to generate (jobs, sessions, tasks, checkpoints).") var events: Int = 1_000_000
    @Option(help: "Seconds the steady writer runs for the lag measurement.") var seconds: Int = 10
    @Option(help: "Events per second the steady writer appends.") var rate: Int = 2_000
    @Flag(help: "Print {\"cases\":[...]} instead of a table.") var json = false

    func validate() throws {
        guard events >= 10_000, events <= 20_000_000 else {
            throw ValidationError("--events must be between 10000 and 20000000, not \(events)")
        }
        guard seconds >= 1, seconds <= 600 else { throw ValidationError("--seconds must be between 1 and 600, not \(seconds)") }
        guard rate >= 10, rate <= 50_000 else { throw ValidationError("--rate must be between 10 and 50000, not \(rate)") }
    }

    func run() async throws {
        let logger = try options.makeLogger()
        let bench = try await BenchDatabase.create(catalog: try CatalogDatabase(options: options, logger: logger), logger: logger)
        let store = EventStore(
            pool: PostgresPool(.init(settings: bench.service, maximumConnections: 8), logger: logger),
            configuration: .init(readBatchSize: 5_000), logger: logger)
        return try await withClosing(store) { _ in
            var history = SyntheticHistory(seed: 1, jobs: 50, vmsPerJob: 8, checkpointsPerDisk: 8)

            let clock = ContinuousClock()
            let writeStart = clock.now
            let written = try await generate(&history, into: store)
            let writeSeconds = (clock.now - writeStart).seconds

            // A log that has been there a while is vacuumed; measure that, not the just-written one.
            let vacuum = try await PostgresConnection.connect(bench.administrator, logger: logger)
            try await vacuum.execute("VACUUM (ANALYZE) tidemark.events")
            await vacuum.close()

            // The bare reference: reading the same events in the same batches, decoding them, no projecting.
            let readStart = clock.now
            var read = 0
            var position: Int64 = 0
            while true {
                let batch = try await store.read(after: position, limit: 5_000)
                guard let last = batch.last else { break }
                read += batch.count
                position = last.position
            }
            let readRate = Double(read) / (clock.now - readStart).seconds

            let projector = Projector(store: store, batchSize: 5_000, logger: logger)
            let report = try await projector.rebuild(StandardProjections.all)
            let rebuildRate = Double(report.events) / report.seconds
            let counts = try await store.pool.query(
                "SELECT (SELECT count(*) FROM projection.sessions), (SELECT count(*) FROM projection.tasks), (SELECT count(*) FROM projection.restore_points)"
            )

            let queries = try await BenchLogQueries(store: store, bench: bench, logger: logger).measure()
            let (projected, bare) = try await measureLag(&history, store: store, projector: projector)
            let cases =
                [
                    BenchCase(name: "rebuild all projections", value: rebuildRate, unit: "events/s", reference: readRate),
                    BenchCase(
                        name: "live projection lag p50", value: projected.percentile(0.5), unit: "ms", reference: bare.percentile(0.5)),
                    BenchCase(
                        name: "live projection lag p99", value: projected.percentile(0.99), unit: "ms", reference: bare.percentile(0.99)),
                ] + queries
            BenchReport.print(
                cases, json: json,
                notes: [
                    "history: \(written) events (catalog, then sessions with tasks, checkpoints, retries and retention) appended in \(String(format: "%.1f", writeSeconds)) s",
                    "rebuild: \(report.events) events into shadow tables and swapped in, \(String(format: "%.1f", report.seconds)) s; rows: \(try counts.decode(0, 0, as: Int64.self)) sessions, \(try counts.decode(0, 1, as: Int64.self)) tasks, \(try counts.decode(0, 2, as: Int64.self)) restore points",
                    "rebuild reference: the same events read in the same 5,000-event batches and decoded, nothing projected; the log is vacuumed first, as autovacuum would have",
                    "log queries: 20 of each on the vacuumed log, the busiest job's restore points; reference: the same queries without migration 0010's indexes",
                    "lag: commit of the projection batch minus the event's recorded_at, \(rate) events/s for \(seconds) s; reference: a bare subscription (LISTEN/NOTIFY) receiving the same events",
                ])
        }
    }

    /// Appends the catalog, then sessions (eight appends in flight) until `events` are written.
    private func generate(_ history: inout SyntheticHistory, into store: EventStore) async throws -> Int {
        var written = 0
        for append in try history.catalogAppends() {
            try await store.append(to: append.stream, events: append.events)
            written += append.events.count
        }
        while written < events {
            var round: [SyntheticHistory.Append] = []
            for _ in 0..<8 { round.append(try history.sessionAppend()) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for append in round {
                    group.addTask {
                        for start in stride(from: 0, to: append.events.count, by: 1_000) {
                            let slice = Array(append.events[start..<min(start + 1_000, append.events.count)])
                            try await store.append(to: append.stream, events: slice)
                        }
                    }
                }
                try await group.waitForAll()
            }
            written += round.reduce(0) { $0 + $1.events.count }
        }
        return written
    }

    /// A follower projector and a bare subscription while a writer appends `rate` events/s.
    private func measureLag(
        _ history: inout SyntheticHistory, store: EventStore, projector: Projector
    ) async throws -> (LatencySamples, LatencySamples) {
        let projected = Mutex(LatencySamples())
        let follower = Projector(store: store, batchSize: 5_000, logger: projector.logger) { events in
            let now = Date()
            projected.withLock { samples in
                for event in events { samples.record(.seconds(now.timeIntervalSince(event.recordedAt))) }
            }
        }
        let head = try await store.headPosition()
        let bareSamples = Mutex(LatencySamples())
        let target = head + Int64(rate * seconds)
        let subscriber = Task {
            for try await event in store.subscribe(after: head) {
                let lag = Date().timeIntervalSince(event.recordedAt)
                bareSamples.withLock { $0.record(.seconds(lag)) }
                if event.position >= target { break }
            }
        }
        let following = Task { try await follower.run(pollInterval: .seconds(1)) }

        // Session events, cut into appends of rate/20 events every 50 ms.
        let clock = ContinuousClock()
        let start = clock.now
        var pending: [(StreamName, NewEvent)] = []
        var appended = 0
        let perTick = max(1, rate / 20)
        while appended < rate * seconds {
            while pending.count < perTick {
                let append = try history.sessionAppend()
                pending += append.events.map { (append.stream, $0) }
            }
            let tick = pending.prefix(perTick)
            pending.removeFirst(tick.count)
            var byStream: [StreamName: [NewEvent]] = [:]
            var order: [StreamName] = []
            for (stream, event) in tick {
                if byStream[stream] == nil { order.append(stream) }
                byStream[stream, default: []].append(event)
            }
            for stream in order { try await store.append(to: stream, events: byStream[stream]!) }
            appended += tick.count
            let due = start + .milliseconds(50 * (appended / perTick))
            if due > clock.now { try await Task.sleep(until: due, clock: clock) }
        }
        // Let both finish with what was written.
        let last = try await store.headPosition()
        for _ in 0..<100 {
            let positions = try await follower.status().map(\.position)
            if positions.allSatisfy({ $0 >= last }) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        following.cancel()
        subscriber.cancel()
        return (projected.withLock { $0 }, bareSamples.withLock { $0 })
    }
}
