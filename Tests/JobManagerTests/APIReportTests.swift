import Foundation
import TestSupport
import Testing

/// What the API reports after a session: restore points, statistics, the projections, the
/// audit trail and the category feed (paged and live), with their bad inputs and permissions.
@Suite("API: restore points, statistics, audit trail and event feed", .timeLimit(.minutes(10)))
struct APIReportTests {
    @Test("after a session started through the API: its restore points, statistics, audit entry and feed; paging and refusals")
    func reports() async throws {
        let api = try await APIServerHarness.start(vms: 2)
        defer { Task { try? await api.stop() } }
        let admin = try #require(api.tokens["administrator"])
        let job = api.environment.jobName
        let started = try await api.curl("POST", "/api/v1/jobs/\(job)/start", token: api.tokens["operator"])
        let session = try #require(started.json["session_id"] as? String, "\(started.body)")
        var finished = false
        for _ in 0..<240 where !finished {
            let shown = try await api.curl("GET", "/api/v1/sessions/\(session)", token: admin)
            finished = (shown.json["session"] as? [String: Any])?["state"] as? String == "finished"
            if !finished { try await Task.sleep(for: .milliseconds(500)) }
        }
        try #require(finished, "the session did not finish")
        // The projections catch up within a moment of the session's end.
        var points: [[String: Any]] = []
        for _ in 0..<40 where points.count < 2 {
            points = try await api.curl("GET", "/api/v1/restore-points?job=\(job)", token: admin).json["items"] as? [[String: Any]] ?? []
            if points.count < 2 { try await Task.sleep(for: .milliseconds(250)) }
        }
        #expect(points.count == 2 && points.allSatisfy { $0["session_id"] as? String == session }, "\(points)")

        // Paging one at a time reaches both, each once, and then ends.
        let first = try await api.curl("GET", "/api/v1/restore-points?limit=1&job=\(job)", token: admin)
        let next = try #require(first.json["next"] as? String, "\(first.body)")
        #expect(next.contains("job=\(job)"))
        let second = try await api.curl("GET", next, token: admin)
        let paged = [first, second].flatMap { $0.json["items"] as? [[String: Any]] ?? [] }.compactMap { $0["restore_point_id"] as? String }
        #expect(Set(paged) == Set(points.compactMap { $0["restore_point_id"] as? String }) && paged.count == 2, "\(second.body)")
        let pointID = try #require(paged.first)
        #expect(try await api.curl("GET", "/api/v1/restore-points/\(pointID)", token: api.tokens["viewer"]).status == 200)
        #expect(try await api.curl("GET", "/api/v1/restore-points/vm-9-1", token: admin).status == 404)
        #expect(try await api.curl("GET", "/api/v1/restores/not-an-id", token: admin).status == 400)
        #expect(try await api.curl("GET", "/api/v1/restore-points?before=vm-9-1", token: admin).status == 400)
        #expect(try await api.curl("GET", "/api/v1/restore-points?available=maybe", token: admin).status == 400)
        #expect(try await api.curl("GET", "/api/v1/restores?state=exploded", token: admin).status == 400)
        let restores = try await api.curl("GET", "/api/v1/restores", token: admin)
        #expect(restores.status == 200 && (restores.json["items"] as? [Any])?.isEmpty == true, "\(restores.body)")
        #expect(try await api.curl("GET", "/api/v1/publishes/\(UUID().uuidString)", token: admin).status == 404)

        let daily = try await api.curl("GET", "/api/v1/statistics/daily", token: admin)
        let days = daily.json["items"] as? [[String: Any]] ?? []
        #expect(days.reduce(0) { $0 + ($1["sessions"] as? Int ?? 0) } == 1, "\(daily.body)")
        #expect(try await api.curl("GET", "/api/v1/statistics/daily?from=2026-02-30", token: admin).status == 400)
        #expect(try await api.curl("GET", "/api/v1/statistics/daily?from=2026-12-02&to=2026-12-01", token: admin).status == 400)
        #expect(try await api.curl("GET", "/api/v1/statistics/daily?from=2024-01-01&to=2026-01-01", token: admin).status == 400)
        let perJob = try await api.curl("GET", "/api/v1/statistics/jobs", token: api.tokens["viewer"])
        let row = (perJob.json["items"] as? [[String: Any]])?.first
        #expect(row?["job_name"] as? String == job && row?["sessions"] as? Int == 1 && row?["succeeded"] as? Int == 1, "\(perJob.body)")
        #expect(row?["last_success_at"] is String, "\(perJob.body)")
        // The same as CSV for a spreadsheet: a header, then the rows; each session's statistics too.
        let dailyCSV = try await api.curl("GET", "/api/v1/statistics/daily?format=csv", token: admin)
        let dailyLines = dailyCSV.body.split(separator: "\r\n")
        #expect(dailyCSV.headers.lowercased().contains("content-type: text/csv"), "\(dailyCSV.headers)")
        #expect(dailyLines.first?.hasPrefix("day,sessions,") == true && dailyLines.count == days.count + 1, "\(dailyCSV.body)")
        let jobsCSV = try await api.curl("GET", "/api/v1/statistics/jobs", token: admin, headers: ["Accept: text/csv"])
        #expect(jobsCSV.body.split(separator: "\r\n").last?.contains(",\(job),1,1,") == true, "\(jobsCSV.body)")
        let perSession = try await api.curl("GET", "/api/v1/statistics/sessions?job=\(job)", token: admin)
        let sessionRow = (perSession.json["items"] as? [[String: Any]])?.first
        #expect(sessionRow?["session_id"] as? String == session && sessionRow?["processed_bytes"] as? Int ?? 0 > 0, "\(perSession.body)")
        let sessionsCSV = try await api.curl("GET", "/api/v1/statistics/sessions?format=csv", token: api.tokens["viewer"])
        #expect(sessionsCSV.headers.contains("attachment; filename=\"tidemark-sessions-"), "\(sessionsCSV.headers)")
        #expect(sessionsCSV.body.split(separator: "\r\n").count == 2 && sessionsCSV.body.contains(session), "\(sessionsCSV.body)")
        #expect(try await api.curl("GET", "/api/v1/statistics/sessions?job=no-such-job", token: admin).status == 404)
        // The sessions list by each set of filters (each its own prepared statement).
        for (query, count) in [
            ("job=\(job)&result=success", 1), ("job=\(job.uppercased())&state=finished", 1), ("result=failed", 0),
            ("state=running", 0), ("job=\(job)&state=finished&result=success&before=\(session)", 0), ("before=\(session)", 0),
        ] {
            let listed = try await api.curl("GET", "/api/v1/sessions?\(query)", token: admin)
            let ids = (listed.json["items"] as? [[String: Any]])?.compactMap { $0["session_id"] as? String }
            #expect(listed.status == 200 && ids == Array(repeating: session, count: count), "\(query): \(listed.body)")
        }
        #expect(try await api.curl("GET", "/api/v1/sessions?result=success&before=\(UUID().uuidString)", token: admin).status == 400)
        // Per repository per day: the session's repository (from its RepositoryChecked), its bytes.
        let perRepository = try await api.curl("GET", "/api/v1/statistics/repositories?repository=repo", token: api.tokens["viewer"])
        let repositoryDay = try #require((perRepository.json["items"] as? [[String: Any]])?.first, "\(perRepository.body)")
        #expect(repositoryDay["repository_name"] as? String == "repo" && repositoryDay["sessions"] as? Int == 1, "\(perRepository.body)")
        #expect(repositoryDay["succeeded"] as? Int == 1 && repositoryDay["day"] as? String == days.last?["day"] as? String)
        #expect(repositoryDay["processed_bytes"] as? Int == sessionRow?["processed_bytes"] as? Int, "\(perRepository.body)")
        let repositoriesCSV = try await api.curl("GET", "/api/v1/statistics/repositories?format=csv", token: admin)
        let repositoryLines = repositoriesCSV.body.split(separator: "\r\n")
        #expect(repositoryLines.first?.hasPrefix("day,repository_id,repository_name,sessions,") == true, "\(repositoriesCSV.body)")
        #expect(repositoryLines.count == 2 && repositoryLines[1].contains(",repo,1,1,"), "\(repositoriesCSV.body)")
        #expect(repositoriesCSV.headers.contains("filename=\"tidemark-repositories-"), "\(repositoriesCSV.headers)")
        let unknownRepository = try await api.curl("GET", "/api/v1/statistics/repositories?repository=nowhere", token: admin)
        #expect(unknownRepository.status == 404 && unknownRepository.body.contains("repo"), "\(unknownRepository.body)")
        #expect(try await api.curl("GET", "/api/v1/statistics/repositories?to=yesterday", token: admin).status == 400)
        #expect(try await api.curl("GET", "/api/v1/statistics/sessions?format=xlsx", token: admin).status == 400)
        let projections = try await api.curl("GET", "/api/v1/projections", token: admin)
        #expect((projections.json["items"] as? [[String: Any]])?.isEmpty == false, "\(projections.body)")

        // The audit trail: the manual start with who asked and from where; the users added.
        let audit = try await api.curl("GET", "/api/v1/audit?category=session", token: api.tokens["auditor"])
        let start = (audit.json["items"] as? [[String: Any]])?.first
        #expect(start?["event_type"] as? String == "SessionStarted" && start?["actor"] as? String == "api:user-operator", "\(audit.body)")
        #expect(start?["client_address"] as? String == "127.0.0.1", "\(audit.body)")
        let users = try await api.curl("GET", "/api/v1/audit?category=user&limit=2", token: admin)
        let usersNext = try #require(users.json["next"] as? String, "\(users.body)")
        let more = try await api.curl("GET", usersNext, token: admin)
        let userEvents = [users, more].flatMap { $0.json["items"] as? [[String: Any]] ?? [] }
        #expect(userEvents.count == 4 && userEvents.allSatisfy { $0["category"] as? String == "user" }, "\(more.body)")
        let positions = userEvents.compactMap { $0["position"] as? Int }
        #expect(positions == positions.sorted(by: >) && Set(positions).count == 4)
        let refused = try await api.curl("GET", "/api/v1/audit", token: api.tokens["operator"])
        #expect(refused.status == 403 && (refused.json["detail"] as? String)?.contains("audit:read") == true)
        #expect(try await api.curl("GET", "/api/v1/audit?before=-3", token: admin).status == 400)
        #expect(try await api.curl("GET", "/api/v1/audit?category=Job%3B", token: admin).status == 400)

        // The feed: a page by category, and live: a job added while following arrives.
        let jobs = try await api.curl("GET", "/api/v1/events?category=job", token: api.tokens["viewer"])
        #expect((jobs.json["items"] as? [[String: Any]])?.first?["type"] as? String == "JobAdded", "\(jobs.body)")
        let head = try #require(jobs.json["next_after"] as? Int)
        #expect(try await api.curl("GET", "/api/v1/events?category=access", token: api.tokens["viewer"]).status == 403)
        #expect(try await api.curl("GET", "/api/v1/events?category=session", token: api.tokens["restore-operator"]).status == 200)
        #expect(try await api.curl("GET", "/api/v1/events", token: admin).status == 400)
        let following = Task {
            try await api.curl(
                "GET", "/api/v1/events?category=job", token: admin, headers: ["Accept: text/event-stream", "Last-Event-ID: \(head)"],
                timeLimit: 8, endsAtTimeLimit: true)
        }
        try await Task.sleep(for: .seconds(2))
        let document = #"{"name": "followed", "server": "lab", "repository": "repo", "objects": ["vm:lab-vm-000"]}"#
        #expect(try await api.curl("POST", "/api/v1/jobs", token: admin, body: document).status == 201)
        let live = try await following.value
        #expect(live.body.contains("event: JobAdded") && live.body.contains("\"followed\""), "\(live.body)")
        #expect(!live.body.contains("\"\(job)\""), "only what came after Last-Event-ID: \(live.body)")
    }
}
