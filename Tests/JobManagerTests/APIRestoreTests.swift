import Foundation
import TestSupport
import Testing

/// Restores and publishes asked for over HTTP: checked by the command line's planner, recorded
/// with the API user as actor, run by the server, followed live; a restore operator limited to
/// some VMs refused the others; file paths kept inside the server's restore folder; the
/// session replay timeline.
@Suite("API: restores, publishes and the replay timeline", .timeLimit(.minutes(10)))
struct APIRestoreTests {
    static func backUp(_ api: APIServerHarness) async throws -> String {
        let started = try await api.curl("POST", "/api/v1/jobs/\(api.environment.jobName)/start", token: api.tokens["operator"])
        let session = try #require(started.json["session_id"] as? String, "\(started.body)")
        let live = try await api.curl(
            "GET", "/api/v1/sessions/\(session)/events", token: api.tokens["viewer"], headers: ["Accept: text/event-stream"], timeLimit: 120
        )
        #expect(live.body.contains("event: SessionFinished"), "\(live.body)")
        return session
    }

    static func restoreCount(_ api: APIServerHarness) async throws -> String? {
        try await api.environment.scalar("SELECT count(*)::text FROM tidemark.events WHERE category IN ('restore', 'publish')")
    }

    @Test("a disk restored to a file through the API equals the backed-up disk; refusals append nothing; the timeline tells it")
    func diskToFile() async throws {
        let api = try await APIServerHarness.start()
        defer { Task { try? await api.stop() } }
        let session = try await Self.backUp(api)
        let operatorToken = try #require(api.tokens["restore-operator"])
        let body =
            #"{"vms": ["lab-vm-01"], "reason": "ticket 17", "destination": {"kind": "disk-file", "disk": "2000", "file": "web.img"}}"#

        // Refused, each for its own reason, and nothing recorded.
        let refusals: [(token: String?, body: String, status: Int, says: String)] = [
            (api.tokens["viewer"], body, 403, "restores:run"),
            (api.tokens["operator"], body, 403, "restores:run"),
            (operatorToken, body.replacingOccurrences(of: "web.img", with: "../web.img"), 400, "inside the server's restore folder"),
            (operatorToken, body.replacingOccurrences(of: "web.img", with: "/etc/web.img"), 400, "no leading '/'"),
            (operatorToken, body.replacingOccurrences(of: #""file""#, with: #""fiel""#), 400, "did you mean 'file'"),
            (operatorToken, #"{"destination": {"kind": "vm", "server": "lab"}}"#, 400, "'vms' is missing"),
            (operatorToken, body.replacingOccurrences(of: "disk-file", with: "tape"), 400, "'destination.kind' is vm, disk-file"),
            (
                operatorToken, body.replacingOccurrences(of: "lab-vm-01", with: "no-such-vm"), 404,
                "no restore point of a VM named no-such-vm"
            ),
            (operatorToken, body.replacingOccurrences(of: #""2000""#, with: #""2009""#), 400, "has no disk 2009"),
            (
                operatorToken, #"{"vms": ["lab-vm-01"], "destination": {"kind": "disk-file", "disk": "2000", "file": "a.img", "raw": 1}}"#,
                400, "true or false"
            ),
            (operatorToken, "{\"vms\": [", 400, "not valid JSON at line 1"),
        ]
        for refusal in refusals {
            let reply = try await api.curl("POST", "/api/v1/restores", token: refusal.token, body: refusal.body)
            #expect(reply.status == refusal.status, "\(refusal.body): \(reply.status) \(reply.body)")
            #expect((reply.json["detail"] as? String)?.contains(refusal.says) == true, "\(refusal.body): \(reply.body)")
        }
        let yaml = try await api.curl("POST", "/api/v1/restores", token: operatorToken, body: "vms: [a]", contentType: "application/yaml")
        #expect(yaml.status == 415, "\(yaml.body)")
        #expect(try await Self.restoreCount(api) == "0")
        // Refused after the request's folder was made (the planner found no disk 2009): removed again.
        let restores = api.environment.folder.appendingPathComponent("data/restores").path
        #expect((try? FileManager.default.contentsOfDirectory(atPath: restores)) == [], "a refused request leaves no folder")

        let requested = try await api.curl("POST", "/api/v1/restores", token: operatorToken, body: body)
        #expect(requested.status == 202, "\(requested.body)")
        let restore = try #require(requested.json["restore_id"] as? String)
        #expect(requested.headers.lowercased().contains("location: /api/v1/restores/\(restore)"), "\(requested.headers)")
        let live = try await api.curl(
            "GET", "/api/v1/restores/\(restore)/events", token: operatorToken, headers: ["Accept: text/event-stream"], timeLimit: 120)
        #expect(live.body.contains("event: RestoreRequested") && live.body.contains("event: RestoreFinished"), "\(live.body)")
        #expect(live.body.contains(#""result": "success""#), "\(live.body.suffix(2_000))")
        let folder = try #require(requested.json["folder"] as? String, "\(requested.body)")
        #expect(folder.hasPrefix(restores + "/"), "\(folder)")
        let file = folder + "/web.img"
        let original = api.environment.labPath + "/disks/vm-1-2000.img"
        #expect(try JobEnvironment.sha256(file: file) == JobEnvironment.sha256(file: original))
        let actor = try await api.environment.scalar(
            "SELECT metadata ->> 'actor' FROM tidemark.events WHERE stream_id = 'restore-\(restore)' AND stream_version = 1")
        #expect(actor == "api:user-restore-operator")

        // An export writes into a folder it names, made for it in the request's own.
        let export = try await api.curl(
            "POST", "/api/v1/restores", token: operatorToken,
            body: #"{"vms": ["lab-vm-01"], "destination": {"kind": "export", "folder": "exports/web"}}"#)
        #expect(export.status == 202, "\(export.body)")
        if let exportID = export.json["restore_id"] as? String, let exportFolder = export.json["folder"] as? String {
            let followed = try await api.curl(
                "GET", "/api/v1/restores/\(exportID)/events", token: operatorToken, headers: ["Accept: text/event-stream"], timeLimit: 120)
            #expect(followed.body.contains(#""result": "success""#), "\(followed.body.suffix(2_000))")
            #expect(
                try JobEnvironment.sha256(file: exportFolder + "/exports/web/lab-vm-01-disk-2000.img")
                    == JobEnvironment.sha256(file: original))
        }
        let long = try await api.curl(
            "POST", "/api/v1/restores", token: operatorToken,
            body: body.replacingOccurrences(of: "web.img", with: String(repeating: "x", count: 300)))
        #expect(long.status == 400 && (long.json["detail"] as? String)?.contains("at most 255 bytes") == true, "\(long.body)")

        // The same request again: a folder of its own, never the first one's.
        let again = try await api.curl("POST", "/api/v1/restores", token: operatorToken, body: body)
        #expect(again.status == 202 && again.json["folder"] as? String != folder, "\(again.body)")

        let timeline = try await api.curl("GET", "/api/v1/sessions/\(restore)/timeline", token: api.tokens["viewer"])
        let lines = (timeline.json["items"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }
        #expect(lines.first?.contains("asked by api:user-restore-operator: ticket 17") == true, "\(timeline.body)")
        #expect(lines.last?.hasPrefix("restore success") == true, "\(timeline.body)")
        let backup = try await api.curl("GET", "/api/v1/sessions/\(session)/timeline?limit=2", token: api.tokens["viewer"])
        let items = backup.json["items"] as? [[String: Any]] ?? []
        #expect(items.count == 2 && (items.first?["text"] as? String)?.hasPrefix("session of job") == true, "\(backup.body)")
        let next = try await api.curl(
            "GET", "/api/v1/sessions/\(session)/timeline?after=\(backup.json["next_after"] as? Int ?? 0)", token: api.tokens["viewer"])
        #expect((next.json["items"] as? [[String: Any]])?.first?["version"] as? Int == 3, "\(next.body)")
        let state = try await api.curl("GET", "/api/v1/sessions/\(session)/timeline?at=100000", token: api.tokens["viewer"])
        #expect((state.json["state"] as? String)?.contains("session success") == true, "\(state.body)")
        let bad = try await api.curl("GET", "/api/v1/sessions/\(session)/timeline?at=-1", token: api.tokens["viewer"])
        #expect(bad.status == 400, "\(bad.body)")
    }

    @Test(
        "a restore operator limited to other VMs is refused (403) and nothing is recorded; one limited to the job may restore and publish")
    func limitedRestoreOperator() async throws {
        let api = try await APIServerHarness.start()
        defer { Task { try? await api.stop() } }
        _ = try await Self.backUp(api)
        let environment = api.environment
        let bad = try environment.tidemark(["user", "add", "wide", "--role", "operator", "--vm", "lab-vm-01"])
        #expect(bad.status != 0 && bad.output.contains("limit a restore-operator"), "\(bad.output)")
        let unknownJob = try environment.tidemark(["user", "add", "wide", "--role", "restore-operator", "--job", "no-such-job"])
        #expect(unknownJob.status != 0 && unknownJob.output.contains("no job is named 'no-such-job'"), "\(unknownJob.output)")
        #expect(try environment.tidemark(["user", "add", "narrow", "--role", "restore-operator", "--vm", "lab-vm-02"]).status == 0)
        #expect(
            try environment.tidemark(["user", "add", "by-job", "--role", "restore-operator", "--job", environment.jobName]).status == 0)
        let listed = try environment.tidemark(["user", "list"])
        #expect(listed.output.contains("restore-operator (VMs lab-vm-02)"), "\(listed.output)")
        let scope = try await environment.scalar("SELECT restore_scope::text FROM reporting.users WHERE name = 'by-job'")
        #expect(scope?.contains(environment.jobName) == true, "\(scope ?? "nil")")
        let narrow = try environment.token(for: "narrow")
        let byJob = try environment.token(for: "by-job")

        let body = #"{"vms": ["lab-vm-01"], "destination": {"kind": "disk-file", "disk": "2000", "file": "scoped.img"}}"#
        let refused = try await api.curl("POST", "/api/v1/restores", token: narrow, body: body)
        #expect(
            refused.status == 403 && (refused.json["detail"] as? String)?.contains("may restore only VMs lab-vm-02") == true,
            "\(refused.body)")
        let publishRefused = try await api.curl("POST", "/api/v1/publishes", token: narrow, body: #"{"vm": "lab-vm-01"}"#)
        #expect(publishRefused.status == 403, "\(publishRefused.body)")
        // A VM without points is told without naming the VMs that have some.
        let unknown = try await api.curl(
            "POST", "/api/v1/restores", token: narrow, body: body.replacingOccurrences(of: "lab-vm-01", with: "db-9"))
        #expect(unknown.status == 404 && !unknown.body.contains("lab-vm-01"), "\(unknown.body)")
        let wide = try await api.curl("POST", "/api/v1/publishes", token: byJob, body: #"{"vm": "lab-vm-01", "listen": "0.0.0.0:0"}"#)
        #expect(wide.status == 403 && (wide.json["detail"] as? String)?.contains("only an administrator") == true, "\(wide.body)")
        #expect(try await Self.restoreCount(api) == "0")

        // Limited to the job that backs the VM up: the publish is served, read, and stopped.
        let published = try await api.curl("POST", "/api/v1/publishes", token: byJob, body: #"{"vm": "lab-vm-01", "reason": "look"}"#)
        #expect(published.status == 201, "\(published.body)")
        let publish = try #require(published.json["publish_id"] as? String)
        let address = try #require(published.json["address"] as? String)
        let size = try await offThePool { try Program.run("/usr/bin/nbdinfo", ["--size", "nbd://\(address)/disk-2000"]) }
        #expect(size.status == 0 && size.output.trimmingCharacters(in: .whitespacesAndNewlines) == "\(1 << 20)", "\(size.output)")
        let otherStop = try await api.curl("POST", "/api/v1/publishes/\(publish)/stop", token: narrow)
        #expect(otherStop.status == 403, "\(otherStop.body)")
        let stopped = try await api.curl("POST", "/api/v1/publishes/\(publish)/stop", token: byJob, body: #"{"reason": "done"}"#)
        #expect(stopped.status == 200 && stopped.json["stopped"] as? Bool == true, "\(stopped.body)")
        #expect((stopped.json["clients"] as? Int ?? 0) >= 1, "\(stopped.body)")
        let gone = try await api.curl("POST", "/api/v1/publishes/\(publish)/stop", token: byJob)
        #expect(gone.status == 404, "\(gone.body)")
        let events = try await api.curl("GET", "/api/v1/publishes/\(publish)/events", token: byJob)
        let types = (events.json["items"] as? [[String: Any]] ?? []).compactMap { $0["type"] as? String }
        #expect(types.first == "PublishRequested" && types.last == "PublishStopped", "\(events.body)")
        let socket = try await api.curl("POST", "/api/v1/publishes", token: byJob, body: #"{"vm": "lab-vm-01", "listen": "/tmp/x.sock"}"#)
        #expect(socket.status == 400, "\(socket.body)")
    }
}
