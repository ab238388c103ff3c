import Foundation
import TestSupport
import Testing

/// Repositories, proxies, throttling rules and managed servers through the API, decided as
/// `tidemark <kind> add|update` decides them: added (201), changed with `If-Match` (428
/// without, 412 when stale), dry runs, and bad bodies refused with what to fix, appending nothing.
@Suite("API: repositories, proxies, throttling rules and servers (POST, PATCH with If-Match)", .timeLimit(.minutes(10)))
struct APICatalogFieldsTests {
    @Test("added, changed with If-Match, renamed; refusals name the key and append nothing")
    func lifecycle() async throws {
        let api = try await APIServerHarness.start()
        defer { Task { try? await api.stop() } }
        let admin = try #require(api.tokens["administrator"])
        let folder = api.environment.folder.path
        let file = api.environment.folder.appendingPathComponent("a-file").path
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))

        let before = try await api.environment.eventCount()
        let refusals: [(method: String, path: String, body: String, status: Int, says: String)] = [
            ("POST", "/api/v1/repositories", #"{"name": "x"}"#, 400, "needs 'path'"),
            ("POST", "/api/v1/repositories", #"{"name": "x", "path": "relative"}"#, 400, "is not absolute"),
            ("POST", "/api/v1/repositories", #"{"name": "x", "path": "/"}"#, 400, "the root or a system folder"),
            ("POST", "/api/v1/repositories", #"{"name": "x", "path": "/etc/backups"}"#, 400, "the root or a system folder"),
            ("POST", "/api/v1/repositories", #"{"name": "x", "path": "/srv/x", "max_taks": 2}"#, 400, "did you mean 'max_tasks'"),
            ("POST", "/api/v1/repositories", #"{"name": "x", "path": "\#(file)"}"#, 400, "is a file on the server"),
            ("POST", "/api/v1/repositories", #"{"name": "x", "path": "/srv/x", "max_tasks": "four"}"#, 400, "whole number"),
            ("POST", "/api/v1/repositories", #"{"name": "repo", "path": "/srv/x"}"#, 409, "exists"),
            ("POST", "/api/v1/proxies", #"{"name": "p", "transport_modes": ["teleport"]}"#, 400, "teleport"),
            ("POST", "/api/v1/throttling-rules", #"{"name": "t", "rate": "fast"}"#, 400, "fast"),
            ("POST", "/api/v1/throttling-rules", #"{"name": "t", "rate": "100MB/s", "target_repositories": ["nowhere"]}"#, 404, "nowhere"),
            (
                "POST", "/api/v1/servers", #"{"name": "vc", "vcenter": "https://127.0.0.1:1", "password_env": "PGPASSWORD"}"#, 400,
                "'password_env' is for 'tidemark server add'"
            ),
            (
                "POST", "/api/v1/servers", #"{"name": "vc", "vcenter": "https://127.0.0.1:1", "credential": "nothing-sealed"}"#, 400,
                "nothing-sealed"
            ),
            ("POST", "/api/v1/repositories", #"{"name": "x", "path": "/srv/../etc"}"#, 400, "'..' parts"),
            ("POST", "/api/v1/servers", #"{"name": "vc", "vcenter": "https://h", "lab": "/l"}"#, 400, "not both"),
            ("PATCH", "/api/v1/repositories/repo", #"{"max_tasks": 6}"#, 428, "If-Match"),
        ]
        for refusal in refusals {
            let reply = try await api.curl(refusal.method, refusal.path, token: admin, body: refusal.body)
            #expect(
                reply.status == refusal.status || (refusal.status == 404 && reply.status == 400),
                "\(refusal.body): \(reply.status) \(reply.body)")
            #expect((reply.json["detail"] as? String)?.contains(refusal.says) == true, "\(refusal.body): \(reply.body)")
        }
        let weak = try await api.curl(
            "POST", "/api/v1/repositories", token: api.tokens["operator"], body: #"{"name": "x", "path": "/srv/x"}"#)
        #expect(weak.status == 403 && (weak.json["detail"] as? String)?.contains("catalog:write") == true, "\(weak.body)")
        #expect(try await api.environment.eventCount() == before, "nothing refused appended anything")

        let dry = try await api.curl(
            "POST", "/api/v1/repositories?dry_run=true", token: admin, body: #"{"name": "offsite", "path": "\#(folder)/offsite"}"#)
        #expect(dry.status == 200 && dry.json["dry_run"] as? Bool == true, "\(dry.body)")
        #expect(try await api.environment.eventCount() == before, "a dry run appends nothing")
        let added = try await api.curl(
            "POST", "/api/v1/repositories", token: admin,
            body: #"{"name": "offsite", "path": "\#(folder)/offsite", "max_tasks": 2, "site": "dr"}"#)
        #expect(added.status == 201 && added.headers.contains("\"1\""), "\(added.status) \(added.body)")
        let changed = try await api.curl(
            "PATCH", "/api/v1/repositories/offsite", token: admin, headers: [#"If-Match: "1""#],
            body: #"{"max_tasks": 6, "verify_every_days": 7}"#)
        #expect(changed.status == 200 && changed.json["definition_version"] as? Int == 2, "\(changed.body)")
        let fields = (changed.json["changes"] as? [[String: Any]])?.first?["changed_fields"] as? [String] ?? []
        #expect(Set(fields) == ["max_concurrent_tasks", "verify_every_days"], "\(changed.body)")
        let stale = try await api.curl(
            "PATCH", "/api/v1/repositories/offsite", token: admin, headers: [#"If-Match: "1""#], body: #"{"max_tasks": 3}"#)
        #expect(stale.status == 412, "\(stale.body)")
        let staleSame = try await api.curl(
            "PATCH", "/api/v1/repositories/offsite", token: admin, headers: [#"If-Match: "1""#], body: #"{"max_tasks": 6}"#)
        #expect(staleSame.status == 412, "a stale version is refused even when nothing would change: \(staleSame.body)")
        let shown = try await api.curl("GET", "/api/v1/repositories/offsite", token: admin)
        #expect("\(shown.json["max_concurrent_tasks"] ?? "")" == "6", "\(shown.body)")
        let actor = try await api.environment.scalar(
            "SELECT metadata ->> 'actor' FROM tidemark.events WHERE category = 'repository' ORDER BY position DESC LIMIT 1")
        #expect(actor == "api:user-administrator")

        // A proxy's placement cleared with "", a throttling rule naming it, a lab server renamed.
        let proxy = try await api.curl(
            "POST", "/api/v1/proxies", token: admin, body: #"{"name": "p2", "transport_modes": ["network", "hot-add"], "host": "esx-1"}"#)
        #expect(proxy.status == 201, "\(proxy.body)")
        // Hot-add needs a host or a cluster: clearing the host alone is refused, moving to a cluster is not.
        let alone = try await api.curl("PATCH", "/api/v1/proxies/p2", token: admin, headers: [#"If-Match: "1""#], body: #"{"host": null}"#)
        #expect(
            alone.status == 400 && (alone.json["detail"] as? String)?.contains("hot-add needs the host or cluster") == true, "\(alone.body)"
        )
        let cleared = try await api.curl(
            "PATCH", "/api/v1/proxies/p2", token: admin, headers: [#"If-Match: "1""#], body: #"{"host": "", "cluster": "cluster-1"}"#)
        #expect(cleared.status == 200, "\(cleared.body)")
        let moved = (cleared.json["changes"] as? [[String: Any]])?.first?["changed_fields"] as? [String] ?? []
        #expect(Set(moved) == ["host", "cluster"], "\(cleared.body)")
        let rule = try await api.curl(
            "POST", "/api/v1/throttling-rules", token: admin,
            body:
                #"{"name": "wan", "rate": "100MB/s", "source_proxies": ["p2"], "target_repositories": ["offsite"], "window": "08:00-18:00"}"#
        )
        #expect(rule.status == 201, "\(rule.body)")
        let lab = try await api.curl("POST", "/api/v1/servers", token: admin, body: #"{"name": "lab-2", "lab": "\#(folder)/lab-2"}"#)
        #expect(lab.status == 201, "\(lab.body)")
        let renamed = try await api.curl(
            "PATCH", "/api/v1/servers/lab-2", token: admin, headers: [#"If-Match: "1""#], body: #"{"name": "lab-3"}"#)
        #expect(renamed.status == 200 && renamed.json["server_name"] as? String == "lab-3", "\(renamed.body)")
        let listed = try api.environment.tidemark(["throttle", "list"])
        #expect(listed.output.contains("wan"), "\(listed.output)")
    }
}
