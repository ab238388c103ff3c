import Foundation
import TestSupport
import Testing

/// `/metrics` scraped by a real Prometheus (Debian's `prometheus`) over HTTPS with a token,
/// and a query answered through Prometheus' own HTTP API.
@Suite(
    "API: metrics scraped by Prometheus", .timeLimit(.minutes(5)),
    .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus")))
struct APIMetricsTests {
    @Test("after a session started through the API, Prometheus answers the job's last result, the append latency and the API's requests")
    func scraped() async throws {
        let api = try await APIServerHarness.start()
        defer { Task { try? await api.stop() } }
        let token = try #require(api.tokens["viewer"])
        let started = try await api.curl("POST", "/api/v1/jobs/\(api.environment.jobName)/start", token: api.tokens["operator"])
        let session = try #require(started.json["session_id"] as? String, "\(started.body)")
        // Followed to its end (the stream closes after SessionFinished).
        _ = try await api.curl(
            "GET", "/api/v1/sessions/\(session)/events", token: token, headers: ["Accept: text/event-stream"], timeLimit: 120)

        let unauthenticated = try await api.curl("GET", "/metrics")
        #expect(unauthenticated.status == 401)
        let direct = try await api.curl("GET", "/metrics", token: token)
        #expect(direct.status == 200 && direct.body.contains("# TYPE tidemark_sessions_running gauge"), "\(direct.body.prefix(500))")

        let folder = api.environment.folder.appendingPathComponent("prometheus")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let tokenFile = folder.appendingPathComponent("token")
        try Data(token.utf8).write(to: tokenFile)
        let target = api.url.replacingOccurrences(of: "https://", with: "")
        let configuration = """
            global: {scrape_interval: 1s, evaluation_interval: 1s}
            scrape_configs:
              - job_name: tidemark
                scheme: https
                authorization: {type: Bearer, credentials_file: \(tokenFile.path)}
                tls_config: {ca_file: \(api.certificate)}
                static_configs: [{targets: ['\(target)']}]
            """
        let configurationFile = folder.appendingPathComponent("prometheus.yml")
        try Data(configuration.utf8).write(to: configurationFile)
        let port = try LoopbackPort.free()
        let prometheus = Process()
        prometheus.executableURL = URL(fileURLWithPath: "/usr/bin/prometheus")
        prometheus.arguments = [
            "--config.file=\(configurationFile.path)", "--storage.tsdb.path=\(folder.appendingPathComponent("data").path)",
            "--web.listen-address=127.0.0.1:\(port)",
        ]
        let log = folder.appendingPathComponent("prometheus.log")
        #expect(FileManager.default.createFile(atPath: log.path, contents: nil))
        let handle = try FileHandle(forWritingTo: log)
        prometheus.standardOutput = handle
        prometheus.standardError = handle
        try prometheus.run()
        defer {
            prometheus.terminate()
            prometheus.waitUntilExit()
        }

        func query(_ expression: String) async throws -> [[String: Any]] {
            let run = try await offThePool {
                try Program.run(
                    "/usr/bin/curl", ["-sS", "--get", "--data-urlencode", "query=\(expression)", "http://127.0.0.1:\(port)/api/v1/query"])
            }
            let object = (try? JSONSerialization.jsonObject(with: Data(run.output.utf8))) as? [String: Any]
            return ((object?["data"] as? [String: Any])?["result"] as? [[String: Any]]) ?? []
        }
        var lastResult: [[String: Any]] = []
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            lastResult = try await query("tidemark_job_last_result{job_name=\"\(api.environment.jobName)\"}")
            if !lastResult.isEmpty { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        let logText = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        let scrapedNow = try await api.curl("GET", "/metrics", token: token).body
        #expect(
            ((lastResult.first?["metric"] as? [String: Any])?["result"] as? String) == "success",
            "\(lastResult)\n\(scrapedNow.split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: "\n"))\n\(logText.suffix(1_000))"
        )
        #expect(try await query("up{job=\"tidemark\"}").first.flatMap { ($0["value"] as? [Any])?.last as? String } == "1")
        #expect(!(try await query("tidemark_event_append_duration_seconds_count")).isEmpty)
        #expect(!(try await query("tidemark_api_requests_total{route=\"/api/v1/jobs/{name}/start\",status=\"202\"}")).isEmpty)
        #expect(!(try await query("tidemark_task_slots_limit{kind=\"repository\"}")).isEmpty)
    }
}
