import EventStore
import Foundation
import JobManager
import Postgres

/// The metrics that describe the catalog and its sessions, whichever server ran them: read
/// from the projections and the slot claims at each scrape and written in Prometheus' text
/// format. (In-process metrics — API requests, append latency — come from swift-metrics'
/// Prometheus registry and are written beside these.) A few queries per scrape; the
/// sessions' aggregate reads `projection.sessions` whole, which `bench api` measures.
struct CatalogMetrics {
    static let durationBuckets: [Double] = [60, 300, 900, 1_800, 3_600, 7_200, 14_400, 28_800, 86_400]

    let store: EventStore

    func text(now: Date = Date()) async throws -> String {
        var out = PrometheusText()
        try await jobs(&out, now: now)
        try await sessions(&out)
        try await slots(&out)
        try await repositories(&out)
        try await projections(&out)
        return out.text
    }

    func jobs(_ out: inout PrometheusText, now: Date) async throws {
        let result = try await store.pool.query(
            """
            SELECT j.name, coalesce(s.last_result, ''), extract(epoch FROM s.last_finished)::double precision,
                   extract(epoch FROM s.last_success)::double precision,
                   coalesce(s.processed, 0)::double precision, coalesce(s.read, 0)::double precision,
                   coalesce(s.transferred, 0)::double precision
              FROM projection.jobs j
              LEFT JOIN (SELECT job_id,
                                (array_agg(result ORDER BY finished_at DESC) FILTER (WHERE state = 'finished'))[1] AS last_result,
                                max(finished_at) FILTER (WHERE state = 'finished') AS last_finished,
                                max(finished_at) FILTER (WHERE result IN ('success', 'warning')) AS last_success,
                                sum(processed_bytes) AS processed, sum(read_bytes) AS read, sum(transferred_bytes) AS transferred
                           FROM projection.sessions GROUP BY job_id) s ON s.job_id::text = j.job_id::text
             ORDER BY j.name
            """)
        out.family("tidemark_job_last_result", "gauge", "1 for the result of the job's last finished session (success, warning, failed)")
        out.family("tidemark_job_last_finished_timestamp_seconds", "gauge", "When the job's last session finished (Unix time)")
        out.family("tidemark_job_seconds_since_last_success", "gauge", "Seconds since the job's last successful (or warning) session ended")
        out.family("tidemark_job_processed_bytes_total", "counter", "Bytes of disks the job's sessions processed")
        out.family("tidemark_job_read_bytes_total", "counter", "Bytes the job's sessions read from the source")
        out.family("tidemark_job_transferred_bytes_total", "counter", "Bytes the job's sessions wrote to the repository")
        for row in 0..<result.rowCount {
            // Not "job": Prometheus gives every scraped series a "job" label of its own (the scrape job).
            let job = [("job_name", try result.decode(row, 0, as: String.self))]
            let last = try result.decode(row, 1, as: String.self)
            // The last finished session's, not `running`: alerts on failure must not flap while a job runs.
            if !last.isEmpty { out.sample("tidemark_job_last_result", job + [("result", last)], 1) }
            if let finished = try result.decodeIfPresent(row, 2, as: Double.self) {
                out.sample("tidemark_job_last_finished_timestamp_seconds", job, finished)
            }
            if let success = try result.decodeIfPresent(row, 3, as: Double.self) {
                out.sample("tidemark_job_seconds_since_last_success", job, max(0, now.timeIntervalSince1970 - success))
            }
            out.sample("tidemark_job_processed_bytes_total", job, try result.decode(row, 4, as: Double.self))
            out.sample("tidemark_job_read_bytes_total", job, try result.decode(row, 5, as: Double.self))
            out.sample("tidemark_job_transferred_bytes_total", job, try result.decode(row, 6, as: Double.self))
        }
    }

    func sessions(_ out: inout PrometheusText) async throws {
        let buckets = Self.durationBuckets.map { "count(*) FILTER (WHERE duration_seconds <= \($0))" }.joined(separator: ", ")
        let result = try await store.pool.query(
            """
            SELECT (SELECT count(*) FROM projection.sessions WHERE state = 'running')::double precision,
                   count(*)::double precision, coalesce(sum(duration_seconds), 0)::double precision, \(buckets)
              FROM projection.sessions WHERE state = 'finished' AND duration_seconds IS NOT NULL
            """)
        out.family("tidemark_sessions_running", "gauge", "Sessions begun and not finished")
        out.sample("tidemark_sessions_running", [], try result.decode(0, 0, as: Double.self))
        out.family("tidemark_session_duration_seconds", "histogram", "How long finished sessions took")
        for (index, bound) in Self.durationBuckets.enumerated() {
            out.sample(
                "tidemark_session_duration_seconds_bucket", [("le", PrometheusText.number(bound))],
                Double(try result.decode(0, 3 + index, as: Int64.self)))
        }
        let count = try result.decode(0, 1, as: Double.self)
        out.sample("tidemark_session_duration_seconds_bucket", [("le", "+Inf")], count)
        out.sample("tidemark_session_duration_seconds_sum", [], try result.decode(0, 2, as: Double.self))
        out.sample("tidemark_session_duration_seconds_count", [], count)
    }

    func slots(_ out: inout PrometheusText) async throws {
        let owners = try await store.pool.query(
            """
            SELECT 'repository', repository_id::text, name, max_concurrent_tasks FROM projection.repositories
            UNION ALL SELECT 'proxy', proxy_id::text, name, max_concurrent_tasks FROM projection.proxies
            """)
        let claims = try await store.pool.query(
            "SELECT lock_class, count(*) FROM tidemark.slot_claims WHERE tidemark.backend_alive(holder_pid, holder_started) GROUP BY lock_class"
        )
        var inUse: [Int32: Int64] = [:]
        for row in 0..<claims.rowCount { inUse[try claims.decode(row, 0)] = try claims.decode(row, 1) }
        out.family("tidemark_task_slots_in_use", "gauge", "Task slots held now, per repository and proxy")
        out.family("tidemark_task_slots_limit", "gauge", "Task slots a repository or proxy allows at once")
        for row in 0..<owners.rowCount {
            let kind = try owners.decode(row, 0, as: String.self)
            let id = try owners.decode(row, 1, as: String.self)
            let labels = [("kind", kind), ("name", try owners.decode(row, 2, as: String.self))]
            let owner: TaskSlots.Owner = kind == "repository" ? .repository : .proxy
            out.sample("tidemark_task_slots_in_use", labels, Double(inUse[TaskSlots.lockClass(owner, id)] ?? 0))
            out.sample("tidemark_task_slots_limit", labels, Double(try owners.decode(row, 3, as: Int32.self)))
        }
    }

    /// Free space of each repository's file system, as this server sees the path (statvfs on a
    /// blocking thread: a hung network mount must not hold the cooperative pool).
    func repositories(_ out: inout PrometheusText) async throws {
        let result = try await store.pool.query("SELECT name, path FROM projection.repositories WHERE path <> '' ORDER BY name")
        let paths = try (0..<result.rowCount).map { (try result.decode($0, 0, as: String.self), try result.decode($0, 1, as: String.self)) }
        let space = await withCheckedContinuation { (continuation: CheckedContinuation<[(String, Double, Double)], Never>) in
            DispatchQueue.global().async {
                continuation.resume(
                    returning: paths.compactMap { name, path in
                        var stats = statvfs()
                        guard statvfs(path, &stats) == 0 else { return nil }
                        let block = Double(stats.f_frsize)
                        return (name, Double(stats.f_bavail) * block, Double(stats.f_blocks) * block)
                    })
            }
        }
        out.family("tidemark_repository_free_bytes", "gauge", "Free bytes on the repository's file system (unprivileged)")
        out.family("tidemark_repository_size_bytes", "gauge", "Size of the repository's file system")
        for (name, free, size) in space {
            out.sample("tidemark_repository_free_bytes", [("repository", name)], free)
            out.sample("tidemark_repository_size_bytes", [("repository", name)], size)
        }
    }

    func projections(_ out: inout PrometheusText) async throws {
        let result = try await store.pool.query(
            "SELECT projection, events_behind::double precision, seconds_behind::double precision FROM reporting.projection_status ORDER BY projection"
        )
        out.family("tidemark_projection_lag_events", "gauge", "Events of the log a projection has not applied yet")
        out.family("tidemark_projection_lag_seconds", "gauge", "Age of the oldest event a projection has not applied yet")
        for row in 0..<result.rowCount {
            let labels = [("projection", try result.decode(row, 0, as: String.self))]
            out.sample("tidemark_projection_lag_events", labels, try result.decode(row, 1, as: Double.self))
            out.sample("tidemark_projection_lag_seconds", labels, try result.decode(row, 2, as: Double.self))
        }
    }
}

/// Prometheus' text exposition format: `# HELP`, `# TYPE`, and samples with escaped labels.
struct PrometheusText {
    private(set) var text = ""

    mutating func family(_ name: String, _ type: String, _ help: String) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    mutating func sample(_ name: String, _ labels: [(String, String)], _ value: Double) {
        let rendered = labels.map { "\($0.0)=\"\(Self.escaped($0.1))\"" }.joined(separator: ",")
        text += name + (rendered.isEmpty ? "" : "{\(rendered)}") + " " + Self.number(value) + "\n"
    }

    /// Label values escape `\`, `"` and line feeds.
    static func escaped(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    static func number(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
