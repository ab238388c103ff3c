import Foundation
import TestSupport
import Testing

/// Two-person approval through the API: a job's removal and a retention cut wait for a second
/// administrator; the requester cannot approve their own; the change lands with the approval;
/// the policy is turned off only on the host, with a reason, and that is in the audit trail.
@Suite("API: two-person approval", .timeLimit(.minutes(10)))
struct APIApprovalTests {
    @Test("removal and retention cut wait for a second administrator; own approval refused; the policy off only on the host")
    func approvals() async throws {
        let api = try await APIServerHarness.start()
        defer { Task { try? await api.stop() } }
        let alice = try #require(api.tokens["administrator"])
        #expect(try api.environment.tidemark(["user", "add", "second-admin", "--role", "administrator"]).status == 0)
        let bob = try api.environment.token(for: "second-admin")
        let job = api.environment.jobName

        // A removal asked for: 202, the job still there.
        let asked = try await api.curl("DELETE", "/api/v1/jobs/\(job)", token: alice)
        #expect(asked.status == 202 && asked.json["state"] as? String == "pending", "\(asked.body)")
        let approval = try #require(asked.json["approval_id"] as? String)
        #expect(asked.headers.lowercased().contains("location: /api/v1/approvals/\(approval)"))
        #expect(try await api.curl("GET", "/api/v1/jobs/\(job)", token: alice, headers: ["Accept: application/yaml"]).status == 200)
        // A dry run needs no approval and appends nothing.
        #expect(try await api.curl("DELETE", "/api/v1/jobs/\(job)?dry_run=true", token: alice).status == 200)

        let own = try await api.curl("POST", "/api/v1/approvals/\(approval)/approve", token: alice)
        #expect(own.status == 403 && (own.json["detail"] as? String)?.contains("another administrator") == true, "\(own.body)")
        let operatorTry = try await api.curl("POST", "/api/v1/approvals/\(approval)/approve", token: api.tokens["operator"])
        #expect(operatorTry.status == 403 && (operatorTry.json["detail"] as? String)?.contains("approvals:decide") == true)
        var pending: [[String: Any]] = []
        for _ in 0..<20 where pending.isEmpty {
            pending =
                try await api.curl("GET", "/api/v1/approvals?state=pending", token: api.tokens["auditor"]).json["items"] as? [[String: Any]]
                ?? []
            if pending.isEmpty { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(
            pending.first?["approval_id"] as? String == approval && pending.first?["requested_by"] as? String == "api:user-administrator")

        let approved = try await api.curl("POST", "/api/v1/approvals/\(approval)/approve", token: bob)
        #expect(approved.status == 200, "\(approved.body)")
        #expect((approved.json["changes"] as? [[String: Any]])?.first?["event_type"] as? String == "JobRemoved", "\(approved.body)")
        #expect(try await api.curl("GET", "/api/v1/jobs/\(job)", token: alice, headers: ["Accept: application/yaml"]).status == 404)
        let recorded = try await api.environment.scalar(
            """
            SELECT string_agg(event_type || ' ' || (metadata ->> 'actor'), ', ' ORDER BY position) FROM tidemark.events
             WHERE stream_id = 'approval-\(approval)' OR (category = 'job' AND event_type = 'JobRemoved')
            """)
        #expect(recorded == "ApprovalRequested api:user-administrator, Approved api:second-admin, JobRemoved api:second-admin")
        let again = try await api.curl("POST", "/api/v1/approvals/\(approval)/approve", token: bob)
        #expect(again.status == 409 && (again.json["detail"] as? String)?.contains("approved already") == true, "\(again.body)")
        #expect(try await api.curl("POST", "/api/v1/approvals/\(UUID().uuidString)/approve", token: bob).status == 404)

        // The repository is still used by nothing now, but a retention cut comes first: add a
        // job to it, then shorten its retention; the requester withdraws it.
        let document =
            #"{"name": "kept", "server": "lab", "repository": "repo", "objects": ["vm:lab-vm-000"], "retention": "14 restore points"}"#
        #expect(try await api.curl("POST", "/api/v1/jobs", token: alice, body: document).status == 201)
        let cut = try await api.curl(
            "PUT", "/api/v1/jobs/kept", token: alice, headers: ["If-Match: \"1\""],
            body: document.replacingOccurrences(of: "14 restore points", with: "3 restore points"))
        #expect(cut.status == 202, "\(cut.body)")
        let cutID = try #require(cut.json["approval_id"] as? String)
        let longer = try await api.curl(
            "PUT", "/api/v1/jobs/kept", token: alice, headers: ["If-Match: \"1\""],
            body: document.replacingOccurrences(of: "14 restore points", with: "30 restore points"))
        #expect(longer.status == 200, "a longer retention needs no approval: \(longer.body)")
        // The job moved on: the cut's approval no longer applies.
        let stale = try await api.curl("POST", "/api/v1/approvals/\(cutID)/approve", token: bob)
        #expect(stale.status == 409 && (stale.json["detail"] as? String)?.contains("changed since the request") == true, "\(stale.body)")
        let withdrawn = try await api.curl("POST", "/api/v1/approvals/\(cutID)/deny?reason=changed%20my%20mind", token: alice)
        #expect(withdrawn.status == 200, "\(withdrawn.body)")
        let inUse = try await api.curl("DELETE", "/api/v1/repositories/repo", token: alice)
        #expect(inUse.status == 409, "a removal that could not happen is not requested: \(inUse.body)")

        // Off only on the host, with a reason; then a removal is immediate.
        #expect(try api.environment.tidemark(["settings", "two-person-approval", "off"]).status != 0)
        #expect(try api.environment.tidemark(["settings", "two-person-approval", "off", "--reason", "lab with one admin"]).status == 0)
        let direct = try await api.curl("DELETE", "/api/v1/jobs/kept", token: alice)
        #expect(direct.status == 200, "\(direct.body)")
        let trail = try await api.curl("GET", "/api/v1/audit?category=setting", token: api.tokens["auditor"])
        let entry = (trail.json["items"] as? [[String: Any]])?.first
        #expect(entry?["event_type"] as? String == "TwoPersonApprovalTurnedOff", "\(trail.body)")
        #expect((entry?["details"] as? [String: Any])?["reason"] as? String == "lab with one admin")
    }
}
