import API
import ArgumentParser
import Catalog
import CatalogStore
import CommandLineSupport
import EventStore
import Foundation
import Identity
import Logging
import Postgres
import Projections
import SyntheticHistory

/// `tidemark bench api`: `tidemark server` (a child process, as it runs in production) over a
/// history of `--jobs` jobs and `--sessions` sessions, loaded with the two busiest lists at a
/// steady rate, then followed live by `--subscribers` clients while a session's events are
/// appended; beside the same queries in psql, a bare LISTEN subscription, and the server idle.
struct BenchAPICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api",
        abstract: "Latency of the API's job and session lists under load, live events to many subscribers, and the server's memory.")
    @OptionGroup var options: GlobalOptions
    @Option(help: "Jobs in the catalog.") var jobs = 1_000
    @Option(help: "Sessions in the history.") var sessions = 100_000
    @Option(help: "Requests per second, alternating the job and session lists.") var rate = 200
    @Option(help: "Seconds of load.") var seconds = 20
    @Option(help: "Live subscribers to one session's events.") var subscribers = 200
    @Flag(help: "Print {\"cases\":[...]} instead of a table.") var json = false

    func validate() throws {
        try BenchHistory.validate(jobs: jobs, sessions: sessions)
        guard (1...5_000).contains(rate) else { throw ValidationError("--rate must be between 1 and 5000, not \(rate)") }
        guard (1...600).contains(seconds) else { throw ValidationError("--seconds must be between 1 and 600, not \(seconds)") }
        guard (1...2_000).contains(subscribers) else {
            throw ValidationError("--subscribers must be between 1 and 2000, not \(subscribers)")
        }
    }

    func run() async throws {
        try await BenchHistory.withServer(options: options, jobs: jobs, sessions: sessions, name: "api") { world in
            let (bench, store, server, token, folder, setupSeconds) = (
                world.bench, world.store, world.server, world.token, world.folder, world.setupSeconds
            )

            let jobsURL = "\(server.url)/api/v1/jobs?limit=50"
            let sessionsURL = "\(server.url)/api/v1/sessions?limit=50"
            // A second of warm-up at the same rate: connections, the authenticator's fold, plans.
            _ = await BenchLoad.run(
                urls: [("jobs", jobsURL), ("sessions", sessionsURL)], rate: rate, seconds: 1, workers: 4, caFile: server.certificate,
                token: token.text)
            let load = await BenchLoad.run(
                urls: [("jobs", jobsURL), ("sessions", sessionsURL)], rate: rate, seconds: seconds, workers: 4,
                caFile: server.certificate, token: token.text)
            let psql = try BenchPSQL(connection: bench.service.keywordConnectionString, folder: folder)
            let jobsSQL = try psql.time(
                ListQueries.page(view: "reporting.jobs", key: "job_name"), types: "text, bigint", arguments: "'', 50", runs: 200)
            let sessionsSQL = try psql.time(
                ListQueries.sessions(job: false, state: false, result: false, before: false).sql, types: "bigint", arguments: "50",
                runs: 200)

            let idleMemory = try server.residentMebibytes()
            let live = try await measureLive(&world.history, store: store, server: server, token: token.text)

            let jobsLatency = load.latencies["jobs"] ?? LatencySamples()
            let sessionsLatency = load.latencies["sessions"] ?? LatencySamples()
            BenchReport.print(
                [
                    BenchCase(
                        name: "GET /jobs?limit=50 p50", value: jobsLatency.percentile(0.5), unit: "ms", reference: jobsSQL.percentile(0.5)),
                    BenchCase(
                        name: "GET /jobs?limit=50 p99", value: jobsLatency.percentile(0.99), unit: "ms", reference: jobsSQL.percentile(0.99)
                    ),
                    BenchCase(
                        name: "GET /sessions?limit=50 p50", value: sessionsLatency.percentile(0.5), unit: "ms",
                        reference: sessionsSQL.percentile(0.5)),
                    BenchCase(
                        name: "GET /sessions?limit=50 p99", value: sessionsLatency.percentile(0.99), unit: "ms",
                        reference: sessionsSQL.percentile(0.99)),
                    BenchCase(
                        name: "SSE event to \(subscribers) subscribers p50", value: live.delivered.percentile(0.5), unit: "ms",
                        reference: live.bare.percentile(0.5)),
                    BenchCase(
                        name: "SSE event to \(subscribers) subscribers p99", value: live.delivered.percentile(0.99), unit: "ms",
                        reference: live.bare.percentile(0.99)),
                    BenchCase(
                        name: "server memory with \(subscribers) subscribers", value: live.memory, unit: "MiB", reference: idleMemory),
                ], json: json,
                notes: [
                    "history: \(jobs) jobs, \(sessions) sessions written, projected and vacuumed in \(String(format: "%.0f", setupSeconds)) s",
                    "load: \(load.requests) requests at \(rate)/s for \(seconds) s from 4 keep-alive clients, alternating the two lists; timed from when each was due (open loop); \(load.failures) not 200",
                    "list reference: the route's own SQL (ListQueries), prepared once and executed 200 times in psql with \\timing",
                    "SSE: \(live.events) events (a session's) appended 20 ms apart, followed live by \(subscribers) subscribers of their category's feed, timed from the append's start to each arrival; \(live.missing) arrivals missing; reference: a bare LISTEN subscription in this process",
                    "memory: the server's resident set with the subscribers connected; reference: the same server idle after the load",
                    "SSE, the three events most clients got late: " + live.slowest.joined(separator: "; "),
                ])
        }
    }

    struct Live {
        var delivered: LatencySamples
        var bare: LatencySamples
        var memory: Double
        var events: Int
        var missing: Int
        var slowest: [String]
    }

    /// A session's events appended 20 ms apart to a `bench-` stream while `subscribers`
    /// clients follow the `bench` category's live feed: the same hub and the same writer as a
    /// session's own events, on a stream the server's Job Managers leave alone (a session
    /// stream without its end would be taken up and finished by them).
    private func measureLive(
        _ history: inout SyntheticHistory, store: EventStore, server: BenchAPIServer, token: String
    ) async throws
        -> Live
    {
        history.checkpointsPerDisk = 60
        let session = try history.sessionAppend()
        let stream = try StreamName("bench-\(UUID().uuidString.lowercased())")
        let first = try await store.append(to: stream, events: [session.events[0]])
        let subscribed = BenchSubscribers(
            count: subscribers, url: "\(server.url)/api/v1/events?category=bench",
            caFile: server.certificate, token: token, lastEventID: first.positions[0])
        subscribed.start()
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(60)
        while subscribed.connected < subscribers {
            guard clock.now < deadline else {
                await subscribed.stop()
                throw ValidationError("only \(subscribed.connected) of \(subscribers) subscribers connected within a minute")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        try await Task.sleep(for: .seconds(1))
        let memory = try server.residentMebibytes()

        var sent: [Int64: ContinuousClock.Instant] = [:]
        let bareArrivals = Task {
            var arrivals: [Int64: ContinuousClock.Instant] = [:]
            for try await event in store.subscribe(after: first.positions[0], category: "bench") {
                arrivals[event.position] = ContinuousClock.now
                if event.type == "SessionFinished" { break }
            }
            return arrivals
        }
        for event in session.events.dropFirst() {
            let started = clock.now
            let appended = try await store.append(to: stream, events: [event])
            sent[appended.positions[0]] = started
            try await Task.sleep(until: started + .milliseconds(20))
        }
        try await Task.sleep(for: .seconds(2))
        await subscribed.stop()
        let arrivals = try await bareArrivals.value
        var bare = LatencySamples()
        for (position, started) in sent { if let arrived = arrivals[position] { bare.record(arrived - started) } }
        let (delivered, missing) = subscribed.latencies(sent: sent)
        // The three events most clients got late: when each was appended (from the first),
        // its clients' median and slowest delay, and the bare LISTEN's, which tells a late
        // commit or notification (both late) from a late fan-out (only the clients).
        let firstSent = sent.values.min() ?? clock.now
        let slowest = subscribed.perEvent(sent: sent).sorted { $0.value.percentile(0.5) > $1.value.percentile(0.5) }.prefix(3).map {
            position, samples in
            let listen = arrivals[position].flatMap { arrived in sent[position].map { (arrived - $0).seconds * 1_000 } }
            return String(
                format: "+%.2f s: clients' median %.1f ms, slowest %.1f ms, bare LISTEN %@",
                (sent[position].map { $0 - firstSent } ?? .zero).seconds,
                samples.percentile(0.5), samples.percentile(1), listen.map { String(format: "%.1f ms", $0) } ?? "-")
        }
        return Live(delivered: delivered, bare: bare, memory: memory, events: sent.count, missing: missing, slowest: slowest)
    }
}
