import ArgumentParser
import BlockingIO
import CommandLineSupport
import EventStore
import Foundation
import Postgres
import PrivateCluster
import SyntheticHistory

/// `tidemark bench console`: the web console's first paint over a history of `--sessions`
/// sessions, timed in Debian's Chromium (Selenium, `Tools/bench/console-first-paint.py`)
/// from navigation to the console's own mark that the page drew its data, cache disabled,
/// beside how long the page's API request took as the browser timed it; and the page's
/// weight (HTML, CSS and scripts as loaded) beside the HTML alone.
struct BenchConsoleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "The web console's first paint (dashboard, sessions) in Chromium over a large history, and its page weight.")
    @OptionGroup var options: GlobalOptions
    @Option(help: "Jobs in the catalog.") var jobs = 1_000
    @Option(help: "Sessions in the history.") var sessions = 100_000
    @Option(help: "Page loads timed per page (after one to warm up).") var loads = 20
    @Option(help: "The Selenium script that drives Chromium.") var script = "Tools/bench/console-first-paint.py"
    @Flag(help: "Print {\"cases\":[...]} instead of a table.") var json = false

    func validate() throws {
        try BenchHistory.validate(jobs: jobs, sessions: sessions)
        guard (1...500).contains(loads) else { throw ValidationError("--loads must be between 1 and 500, not \(loads)") }
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
    }

    func run() async throws {
        try await BenchHistory.withServer(options: options, jobs: jobs, sessions: sessions, name: "console") { world in
            let server = world.server
            // python3 from PATH: the one Tools/install-dependencies gave Selenium to.
            let arguments = ["python3", script, server.url, server.certificate, world.token.text, String(loads)]
            let output = try await BlockingIOPool.shared.run { () throws(ClusterError) -> ToolRunner.Output in
                try ToolRunner(runAsServerAccount: false).run("/usr/bin/env", arguments)
            }
            guard output.status == 0, let line = output.text.split(separator: "\n").last(where: { $0.hasPrefix("{") }) else {
                throw BenchError("the console's Selenium script failed (\(output.status)): \(output.text.suffix(1_500))")
            }
            let figures = try JSONDecoder().decode(Figures.self, from: Data(line.utf8))
            let dashboard = LatencySamples(milliseconds: figures.dashboard),
                dashboardAPI = LatencySamples(milliseconds: figures.dashboard_api)
            let list = LatencySamples(milliseconds: figures.sessions), listAPI = LatencySamples(milliseconds: figures.sessions_api)
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
                ], json: json,
                notes: [
                    "history: \(jobs) jobs, \(sessions) sessions written, projected and vacuumed in \(String(format: "%.0f", world.setupSeconds)) s",
                    "first paint: \(loads) loads of each page in headless Chromium with the cache disabled (after one to warm up), from navigation to the page's performance mark once its data is drawn; reference: the page's API request as the browser timed it",
                    "weight: the decoded bytes of the page and every /ui/ file it loaded; reference: the HTML alone; no compression",
                ])
        }
    }
}
