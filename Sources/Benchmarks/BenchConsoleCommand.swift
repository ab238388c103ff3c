import ArgumentParser
import BlockingIO
import CommandLineSupport
import EventStore
import Foundation
import Postgres
import PrivateCluster
import Synchronization
import SyntheticHistory

/// `tidemark bench console`: the web console over a history of `--sessions` sessions, in
/// Debian's Chromium (Selenium, `Tools/bench/console-chromium.py`):
/// - first paint, from navigation to the console's own mark that the page drew its data,
///   cache disabled, beside how long the page's API request took as the browser timed it;
/// - the page's weight (HTML, CSS and scripts as loaded) beside the HTML alone;
/// - a running session's page: each checkpoint the bench appends (as a Job Manager would),
///   timed from the append's start to the change of the task's progress bar in the page,
///   beside its arrival at a bare libcurl follower of the same Server-Sent Events.
struct BenchConsoleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "The web console in Chromium over a large history: first paint, live progress updates, page weight.")
    @OptionGroup var options: GlobalOptions
    @Option(help: "Jobs in the catalog.") var jobs = 1_000
    @Option(help: "Sessions in the history.") var sessions = 100_000
    @Option(help: "Page loads timed per page (after one to warm up).") var loads = 20
    @Option(help: "Checkpoints of the live session (1-99), appended 100 ms apart, each one percent of its task.") var updates = 50
    @Option(help: "The Selenium script that drives Chromium.") var script = "Tools/bench/console-chromium.py"
    @Flag(help: "Print {\"cases\":[...]} instead of a table.") var json = false

    func validate() throws {
        try BenchHistory.validate(jobs: jobs, sessions: sessions)
        guard (1...500).contains(loads) else { throw ValidationError("--loads must be between 1 and 500, not \(loads)") }
        guard (1...99).contains(updates) else { throw ValidationError("--updates must be between 1 and 99, not \(updates)") }
        guard FileManager.default.isReadableFile(atPath: script) else {
            throw ValidationError("no Selenium script at \(script): run from the repository's folder or give --script")
        }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver") else {
            throw ValidationError("chromium-driver is not installed: run Tools/install-dependencies")
        }
    }

    /// What the script prints.
    struct Figures: Decodable {
        let dashboard: [Double]
        let dashboard_api: [Double]
        let sessions: [Double]
        let sessions_api: [Double]
        let weight_bytes: Double
        let html_bytes: Double
        /// Each change of the live task's progress bar: `[percent, epoch milliseconds]`.
        let live: [[Double]]
    }

    func run() async throws {
        try await BenchHistory.withServer(options: options, jobs: jobs, sessions: sessions, name: "console") { world in
            let server = world.server
            let (live, first) = try await BenchLiveSession.begin(store: world.store, service: world.bench.service)
            let ready = world.folder.appendingPathComponent("live-ready")
            // python3 from PATH: the one Tools/install-dependencies gave Selenium to.
            let arguments = [
                "python3", script, server.url, server.certificate, world.token.text, String(loads), live.session, ready.path,
                String(updates),
            ]
            let browserEnded = BrowserEnded()
            let browser = Task {
                defer { browserEnded.flag.store(true, ordering: .releasing) }
                return try await BlockingIOPool.shared.run { () throws(ClusterError) -> ToolRunner.Output in
                    try ToolRunner(runAsServerAccount: false).run("/usr/bin/env", arguments)
                }
            }
            let follower = BenchSubscribers(
                count: 1, url: "\(server.url)/api/v1/sessions/\(live.session)/events", caFile: server.certificate, token: world.token.text,
                lastEventID: first)
            follower.start()
            let appended: [Appended]
            do {
                appended = try await appendCheckpoints(live, once: ready, unless: browserEnded)
            } catch {
                await follower.stop()
                throw error
            }
            let output = try await browser.value
            await follower.stop()
            guard output.status == 0, let line = output.text.split(separator: "\n").last(where: { $0.hasPrefix("{") }) else {
                throw BenchError("the console's Selenium script failed (\(output.status)): \(output.text.suffix(1_500))")
            }
            let figures = try JSONDecoder().decode(Figures.self, from: Data(line.utf8))
            let dashboard = LatencySamples(milliseconds: figures.dashboard),
                dashboardAPI = LatencySamples(milliseconds: figures.dashboard_api)
            let list = LatencySamples(milliseconds: figures.sessions), listAPI = LatencySamples(milliseconds: figures.sessions_api)
            let updates = Self.updateLatencies(appended, page: figures.live, follower: follower.firstArrivals)
            BenchReport.print(
                [
                    BenchCase(
                        name: "dashboard first paint p50", value: dashboard.percentile(0.5), unit: "ms",
                        reference: dashboardAPI.percentile(0.5)),
                    BenchCase(
                        name: "dashboard first paint p99", value: dashboard.percentile(0.99), unit: "ms",
                        reference: dashboardAPI.percentile(0.99)),
                    BenchCase(
                        name: "sessions page first paint p50", value: list.percentile(0.5), unit: "ms", reference: listAPI.percentile(0.5)),
                    BenchCase(
                        name: "sessions page first paint p99", value: list.percentile(0.99), unit: "ms", reference: listAPI.percentile(0.99)
                    ),
                    BenchCase(
                        name: "page weight (HTML, CSS, scripts)", value: figures.weight_bytes / 1024, unit: "KiB",
                        reference: figures.html_bytes / 1024),
                    BenchCase(
                        name: "session page progress update p50", value: updates.page.percentile(0.5), unit: "ms",
                        reference: updates.follower.percentile(0.5)),
                    BenchCase(
                        name: "session page progress update p99", value: updates.page.percentile(0.99), unit: "ms",
                        reference: updates.follower.percentile(0.99)),
                ], json: json,
                notes: [
                    "history: \(jobs) jobs, \(sessions) sessions written, projected and vacuumed in \(String(format: "%.0f", world.setupSeconds)) s",
                    "first paint: \(loads) loads of each page in headless Chromium with the cache disabled (after one to warm up), from navigation to the page's performance mark once its data is drawn; reference: the page's API request as the browser timed it",
                    "weight: the decoded bytes of the page and every /ui/ file it loaded; reference: the HTML alone; no compression",
                    "live: \(appended.count) checkpoints of a running session appended 100 ms apart, each timed from its append's start to the change of the task's progress bar in the session page (\(updates.missing) changes missing); reference: the same events' arrival at a bare libcurl follower of the session's Server-Sent Events",
                ])
        }
    }

    /// One checkpoint as appended: its step (the percent it shows), position, and when the
    /// append began by the wall clock (the browser's clock) and by this process's.
    struct Appended {
        let step: Int
        let position: Int64
        let wall: Date
        let started: ContinuousClock.Instant
    }

    /// Set when the browser's script has ended, so a script that failed early is not waited on.
    final class BrowserEnded: Sendable {
        let flag = Atomic<Bool>(false)
    }

    /// Waits for the script's ready file (the session page is open and observed), then appends
    /// the checkpoints 100 ms apart and ends the session.
    private func appendCheckpoints(_ live: BenchLiveSession, once ready: URL, unless ended: BrowserEnded) async throws -> [Appended] {
        while !FileManager.default.fileExists(atPath: ready.path) {
            // The script ended without opening the session's page: its output says why.
            if ended.flag.load(ordering: .acquiring) { return [] }
            try await Task.sleep(for: .milliseconds(50))
        }
        let clock = ContinuousClock()
        var appended: [Appended] = []
        for step in 1...updates {
            let wall = Date(), started = clock.now
            appended.append(Appended(step: step, position: try await live.checkpoint(step), wall: wall, started: started))
            try await Task.sleep(until: started + .milliseconds(100))
        }
        try await live.finish()
        return appended
    }

    /// Each checkpoint's delay to the page's progress bar showing its percent (the first change
    /// to it), and to its arrival at the libcurl follower; how many changes the page missed.
    static func updateLatencies(
        _ appended: [Appended], page: [[Double]], follower: [Int64: ContinuousClock.Instant]
    ) -> (page: LatencySamples, follower: LatencySamples, missing: Int) {
        var shown: [Int: Double] = [:]
        for change in page where change.count == 2 && shown[Int(change[0])] == nil { shown[Int(change[0])] = change[1] }
        var pageSamples = LatencySamples(), followerSamples = LatencySamples(), missing = 0
        for checkpoint in appended {
            if let at = shown[checkpoint.step] {
                pageSamples.record(.milliseconds(at - checkpoint.wall.timeIntervalSince1970 * 1_000))
            } else {
                missing += 1
            }
            if let arrived = follower[checkpoint.position] { followerSamples.record(arrived - checkpoint.started) }
        }
        return (pageSamples, followerSamples, missing)
    }
}
