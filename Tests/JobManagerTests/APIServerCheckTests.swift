import Foundation
import TestSupport
import Testing

/// A managed server's check through the API: connected to as a session would, what it
/// holds or why it cannot be used answered and recorded with who asked; refusals record
/// nothing.
@Suite("API: a managed server's check", .timeLimit(.minutes(10)))
struct APIServerCheckTests {
    @Test("a lab answers what it holds; one without lab.json answers why not; both recorded with who asked; refusals append nothing")
    func check() async throws {
        let api = try await APIServerHarness.start(vms: 2)
        defer { Task { try? await api.stop() } }
        let admin = try #require(api.tokens["administrator"])
        let servers = try await api.curl("GET", "/api/v1/servers", token: admin)
        let name = try #require((servers.json["items"] as? [[String: Any]])?.first?["server_name"] as? String, "\(servers.body)")

        let checked = try await api.curl("POST", "/api/v1/servers/\(name.uppercased())/check", token: admin)
        #expect(checked.status == 200 && checked.json["ok"] as? Bool == true, "\(checked.body)")
        #expect(checked.json["vms"] as? Int == 2 && checked.json["disks"] as? Int ?? 0 >= 2, "\(checked.body)")
        #expect(checked.json["checked_by"] as? String == "api:user-administrator" && checked.json["finished_at"] is String)
        #expect(checked.json["server_name"] as? String == name && checked.json["certificate_thumbprint"] is NSNull, "\(checked.body)")

        let folder = api.environment.folder.appendingPathComponent("no-lab").path
        let added = try await api.curl("POST", "/api/v1/servers", token: admin, body: #"{"name": "empty-lab", "lab": "\#(folder)"}"#)
        #expect(added.status == 201, "\(added.body)")
        let failed = try await api.curl("POST", "/api/v1/servers/empty-lab/check", token: admin)
        #expect(failed.status == 200 && failed.json["ok"] as? Bool == false, "\(failed.body)")
        #expect((failed.json["reason"] as? String)?.contains("no lab.json in \(folder)") == true, "\(failed.body)")

        // Listed newest first, filtered by server and outcome; each one by its id.
        let listed = try await api.curl("GET", "/api/v1/server-checks?server=EMPTY-LAB", token: api.tokens["viewer"])
        let rows = try #require(listed.json["items"] as? [[String: Any]], "\(listed.body)")
        #expect(rows.count == 1 && rows.first?["ok"] as? Bool == false, "\(listed.body)")
        let good = try await api.curl("GET", "/api/v1/server-checks?ok=true", token: admin)
        let goodID = try #require((good.json["items"] as? [[String: Any]])?.first?["check_id"] as? String, "\(good.body)")
        #expect(goodID == checked.json["check_id"] as? String)
        #expect(try await api.curl("GET", "/api/v1/server-checks/\(goodID)", token: admin).json["vms"] as? Int == 2)
        #expect(try await api.curl("GET", "/api/v1/server-checks?ok=maybe", token: admin).status == 400)

        // In the audit trail, as each request is, with where it came from.
        let audit = try await api.curl("GET", "/api/v1/audit?category=check", token: api.tokens["auditor"])
        let requests = try #require(audit.json["items"] as? [[String: Any]], "\(audit.body)")
        #expect(requests.count == 2 && requests.allSatisfy { $0["event_type"] as? String == "ServerCheckStarted" }, "\(audit.body)")
        #expect(
            requests.first?["actor"] as? String == "api:user-administrator" && requests.first?["client_address"] as? String == "127.0.0.1")
        #expect(checked.json["client_address"] == nil, "the address is the audit trail's, not every reader's")

        let before = try await api.environment.eventCount()
        let viewer = try await api.curl("POST", "/api/v1/servers/\(name)/check", token: api.tokens["viewer"])
        #expect(viewer.status == 403 && (viewer.json["detail"] as? String)?.contains("catalog:write") == true, "\(viewer.body)")
        let unknown = try await api.curl("POST", "/api/v1/servers/no-such-server/check", token: admin)
        #expect(unknown.status == 404 && (unknown.json["detail"] as? String)?.contains(name) == true, "\(unknown.body)")
        #expect(try await api.environment.eventCount() == before, "a refused check appends nothing")
        let recorded = try await api.environment.scalar(
            "SELECT string_agg(event_type, ',' ORDER BY position) FROM tidemark.events WHERE category = 'check'")
        #expect(recorded == "ServerCheckStarted,ServerCheckFinished,ServerCheckStarted,ServerCheckFinished")
    }
}
