import Foundation
import TestSupport
import Testing

/// The HTTPS API of `tidemark server`, driven with curl: a job started and followed live to
/// its end, each role against each route class, and the bad inputs and abuse the issue lists.
@Suite("API: the catalog as a service over HTTPS", .timeLimit(.minutes(10)))
struct APIServerTests {
    @Test("with a token: list jobs, start one (202), follow its events live to SessionFinished; the session records who asked")
    func startAndFollow() async throws {
        let api = try await APIServerHarness.start()
        defer { Task { try? await api.stop() } }
        let admin = try #require(api.tokens["administrator"])
        let jobs = try await api.curl("GET", "/api/v1/jobs", token: admin)
        #expect(jobs.status == 200, "\(jobs.body)")
        let items = jobs.json["items"] as? [[String: Any]] ?? []
        #expect(items.map { $0["job_name"] as? String } == [api.environment.jobName], "\(jobs.body)")

        let started = try await api.curl("POST", "/api/v1/jobs/\(api.environment.jobName)/start", token: admin)
        #expect(started.status == 202, "\(started.body)")
        let session = try #require(started.json["session_id"] as? String)
        #expect(started.headers.lowercased().contains("location: /api/v1/sessions/\(session)"), "\(started.headers)")
        // The URL answers at once, projected or not.
        let early = try await api.curl("GET", "/api/v1/sessions/\(session)", token: admin)
        #expect(early.status == 200 && (early.json["session"] as? [String: Any])?["session_id"] as? String == session, "\(early.body)")

        let live = try await api.curl(
            "GET", "/api/v1/sessions/\(session)/events", token: admin, headers: ["Accept: text/event-stream"], timeLimit: 120)
        #expect(live.status == 200, "\(live.body)")
        #expect(live.body.contains("event: SessionStarted") && live.body.contains("event: SessionFinished"), "\(live.body)")
        let positions = live.body.split(separator: "\n").filter { $0.hasPrefix("id: ") }.compactMap { Int64($0.dropFirst(4)) }
        #expect(positions == positions.sorted() && Set(positions).count == positions.count && !positions.isEmpty)
        // Events that arrived live (their JSON read once by the hub for every client) are the
        // events a page gives, field for field.
        let liveEvents = live.body.split(separator: "\n").filter { $0.hasPrefix("data: ") }.compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.dropFirst(6).utf8)) as? NSDictionary
        }
        let paged = try await api.curl("GET", "/api/v1/sessions/\(session)/events?limit=500", token: admin)
        let pagedEvents = (paged.json["items"] as? [[String: Any]] ?? []).map { $0 as NSDictionary }
        #expect(liveEvents.count == positions.count && liveEvents == pagedEvents, "\(live.body)\n\(paged.body)")

        // Resumed from the middle: only what came after, and the same events.
        let middle = positions[positions.count / 2]
        let resumed = try await api.curl(
            "GET", "/api/v1/sessions/\(session)/events", token: admin, headers: ["Accept: text/event-stream", "Last-Event-ID: \(middle)"])
        let resumedPositions = resumed.body.split(separator: "\n").filter { $0.hasPrefix("id: ") }.compactMap { Int64($0.dropFirst(4)) }
        #expect(resumedPositions == positions.filter { $0 > middle })
        // A client that saw the end (an EventSource reconnecting) is told there is no more: 204.
        let ended = try await api.curl(
            "GET", "/api/v1/sessions/\(session)/events", token: admin,
            headers: ["Accept: text/event-stream", "Last-Event-ID: \(positions.last ?? 0)"])
        #expect(ended.status == 204, "\(ended.status) \(ended.body)")

        let page = try await api.curl("GET", "/api/v1/sessions/\(session)/events?limit=1", token: admin)
        let first = (page.json["items"] as? [[String: Any]])?.first
        #expect(first?["type"] as? String == "SessionStarted" && first?["actor"] as? String == "api:user-administrator", "\(page.body)")
        let metadata = try await api.environment.scalar(
            "SELECT metadata ->> 'client_address' FROM tidemark.events WHERE stream_id = 'session-\(session)' AND stream_version = 1")
        #expect(metadata == "127.0.0.1")

        let shown = try await api.curl("GET", "/api/v1/sessions/\(session)", token: admin)
        #expect((shown.json["session"] as? [String: Any])?["session_id"] as? String == session, "\(shown.body)")
        let sessions = try await api.curl("GET", "/api/v1/sessions?limit=1", token: admin)
        #expect((sessions.json["items"] as? [[String: Any]])?.count == 1, "\(sessions.body)")
    }

    @Test("each role against each route class: allowed, or 403 naming the missing permission")
    func roles() async throws {
        let api = try await APIServerHarness.start()
        defer { Task { try? await api.stop() } }
        let job = api.environment.jobName
        // Route class → the roles allowed.
        let routes: [(method: String, path: String, allowed: Set<String>, permission: String)] = [
            ("GET", "/api/v1/jobs", Set(APIServerHarness.roles), "catalog:read"),
            ("GET", "/api/v1/repositories", Set(APIServerHarness.roles), "catalog:read"),
            ("GET", "/api/v1/sessions", Set(APIServerHarness.roles), "sessions:read"),
            ("POST", "/api/v1/jobs/\(job)/stop", ["administrator", "operator"], "jobs:run"),
            ("POST", "/api/v1/jobs/\(job)/start", ["administrator", "operator"], "jobs:run"),
        ]
        for route in routes {
            for role in APIServerHarness.roles {
                let reply = try await api.curl(route.method, route.path, token: api.tokens[role])
                if route.allowed.contains(role) {
                    // Allowed: whatever the state says (a second start finds the first running).
                    #expect(reply.status != 403 && reply.status != 401 && reply.status < 500, "\(role) \(route.path): \(reply.body)")
                } else {
                    #expect(reply.status == 403, "\(role) \(route.path): \(reply.body)")
                    #expect((reply.json["detail"] as? String)?.contains(route.permission) == true, "\(reply.body)")
                }
            }
        }
        let whoami = try await api.curl("GET", "/api/v1/whoami", token: api.tokens["viewer"])
        #expect(whoami.json["role"] as? String == "viewer" && whoami.json["permissions"] as? [String] == ["catalog:read", "sessions:read"])
    }

    @Test("no token, a wrong, revoked or removed user's token: 401 without detail; refusals record SignInFailed and nothing else")
    func refusedTokens() async throws {
        let api = try await APIServerHarness.start()
        defer { Task { try? await api.stop() } }
        let before = try await api.environment.eventCount()
        let none = try await api.curl("GET", "/api/v1/jobs")
        #expect(none.status == 401 && none.json["detail"] == nil && none.headers.lowercased().contains("www-authenticate: bearer"))
        let forged = "tm_0badc0de_" + String(repeating: "A", count: 43)
        #expect(try await api.curl("GET", "/api/v1/jobs", token: forged).status == 401)
        #expect(try await api.curl("GET", "/api/v1/jobs", token: "not-a-token").status == 401)

        let revoked = try api.environment.token(for: "user-viewer")
        #expect(try await api.curl("GET", "/api/v1/jobs", token: revoked).status == 200)
        #expect(try api.environment.tidemark(["token", "revoke", String(revoked.prefix(11))]).status == 0)
        #expect(try await api.curl("GET", "/api/v1/jobs", token: revoked).status == 401)

        let removedUsersToken = try #require(api.tokens["auditor"])
        #expect(try api.environment.tidemark(["user", "remove", "user-auditor"]).status == 0)
        #expect(try await api.curl("GET", "/api/v1/jobs", token: removedUsersToken).status == 401)

        let recorded = try await api.environment.scalar(
            "SELECT string_agg(coalesce(data ->> 'token_prefix', '-') || ':' || (data ->> 'reason'), ',' ORDER BY position) FROM tidemark.events WHERE category = 'access'"
        )
        #expect(
            recorded
                == "tm_0badc0de:unknown token,-:not a Tidemark token,\(revoked.prefix(11)):revoked token,\(removedUsersToken.prefix(11)):revoked token",
            "\(recorded ?? "")")
        // Besides those four records, only the token's issue, its revocation and the removal.
        #expect(try await api.environment.eventCount() == before + 7)
        // The token itself is nowhere in the log.
        let leaked = try await api.environment.scalar(
            "SELECT count(*)::text FROM tidemark.events WHERE data::text LIKE '%\(revoked.suffix(20))%' OR metadata::text LIKE '%\(revoked.suffix(20))%'"
        )
        #expect(leaked == "0")
    }

    @Test("bad input: 400 with what to fix, 404 naming what exists, traversal matches nothing; nothing is appended")
    func badInput() async throws {
        let api = try await APIServerHarness.start()
        defer { Task { try? await api.stop() } }
        let admin = try #require(api.tokens["administrator"])
        let before = try await api.environment.eventCount()
        let tooMany = try await api.curl("GET", "/api/v1/sessions?limit=501", token: admin)
        #expect(tooMany.status == 400 && (tooMany.json["detail"] as? String)?.contains("1 to 500") == true, "\(tooMany.body)")
        #expect(try await api.curl("GET", "/api/v1/sessions?limit=abc", token: admin).status == 400)
        #expect(try await api.curl("GET", "/api/v1/sessions?state=exploded", token: admin).status == 400)
        #expect(try await api.curl("GET", "/api/v1/sessions?before=not-a-uuid", token: admin).status == 400)
        #expect(try await api.curl("GET", "/api/v1/sessions/not-a-uuid", token: admin).status == 400)
        #expect(try await api.curl("GET", "/api/v1/sessions/\(UUID().uuidString)", token: admin).status == 404)
        let unknown = try await api.curl("POST", "/api/v1/jobs/nightly/start", token: admin)
        #expect(unknown.status == 404 && (unknown.json["detail"] as? String)?.contains(api.environment.jobName) == true, "\(unknown.body)")
        for traversal in ["..%2F..%2Fetc%2Fpasswd", "%2e%2e", "a%00b"] {
            let reply = try await api.curl("GET", "/api/v1/jobs/\(traversal)", token: admin)
            #expect([400, 404].contains(reply.status), "\(traversal): \(reply.status) \(reply.body)")
        }
        let stop = try await api.curl("POST", "/api/v1/jobs/\(api.environment.jobName)/stop?mode=now", token: admin)
        #expect(stop.status == 400, "\(stop.body)")
        let big = try await api.curl(
            "POST", "/api/v1/jobs/\(api.environment.jobName)/start", token: admin, body: String(repeating: "x", count: 2 << 20))
        #expect([202, 409, 413].contains(big.status), "\(big.status)")
        #expect(try await api.curl("GET", "/healthz").status == 200)
        let ready = try await api.curl("GET", "/readyz")
        #expect([200, 503].contains(ready.status) && ready.json["database"] as? String == "ok", "\(ready.body)")
        let contract = try await api.curl("GET", "/api/v1/openapi.json")
        #expect(contract.status == 200 && contract.json["openapi"] as? String == "3.1.0")
        // Only the start with the big body may have appended (its session).
        let appended = try await api.environment.eventCount() - before
        #expect(big.status == 202 ? appended >= 1 : appended == 0, "\(appended)")
    }

    @Test("sign-in guessing from one address is throttled after 10 refusals (429) and recorded once, not per guess")
    func guessing() async throws {
        // A window of ten minutes: fourteen curl runs on a loaded machine may take more than one.
        let api = try await APIServerHarness.start(serverEnvironment: ["TIDEMARK_REFUSAL_WINDOW_SECONDS": "600"])
        defer { Task { try? await api.stop() } }
        var statuses: [Int] = []
        for guess in 0..<14 {
            let token = "tm_" + String(format: "%08x", guess) + "_" + String(repeating: "B", count: 43)
            statuses.append(try await api.curl("GET", "/api/v1/jobs", token: token).status)
        }
        #expect(statuses.prefix(10).allSatisfy { $0 == 401 } && statuses.suffix(4).allSatisfy { $0 == 429 }, "\(statuses)")
        let records = try await api.environment.scalar(
            "SELECT count(*)::text FROM tidemark.events WHERE category = 'access' AND event_type = 'SignInFailed'")
        #expect(records == "10")
        // A good token from the same address waits out the minute too: the address is throttled, not the token.
        #expect(try await api.curl("GET", "/api/v1/jobs", token: api.tokens["viewer"]).status == 429)
    }
}
