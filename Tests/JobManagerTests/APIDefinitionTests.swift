import Foundation
import Postgres
import TestSupport
import Testing

/// Job definitions through the API, decided as `job apply` decides them: added, read back as
/// YAML, replaced with `If-Match`, refused when stale, malformed, unknown, too large or too
/// deep, and removed; nothing refused appends anything.
@Suite("API: job definitions (POST, PUT with If-Match, DELETE, dry runs, bad bodies)", .timeLimit(.minutes(10)))
struct APIDefinitionTests {
    @Test("add, read as YAML, replace, refuse a stale version, remove; every change records the caller")
    func lifecycle() async throws {
        let api = try await APIServerHarness.start()
        defer { Task { try? await api.stop() } }
        let admin = try #require(api.tokens["administrator"])
        // Removals here are immediate: two-person approval has its own suite.
        #expect(
            try api.environment.tidemark(["settings", "two-person-approval", "off", "--reason", "definitions tested alone"]).status == 0)
        let document =
            #"{"name": "web-nightly", "server": "lab", "repository": "repo", "objects": ["vm:lab-vm-000"], "schedule": "daily at 22:00"}"#

        let before = try await api.environment.eventCount()
        let dry = try await api.curl("POST", "/api/v1/jobs?dry_run=true", token: admin, body: document)
        #expect(dry.status == 200 && dry.json["dry_run"] as? Bool == true, "\(dry.body)")
        #expect((dry.json["changes"] as? [[String: Any]])?.first?["event_type"] as? String == "JobAdded", "\(dry.body)")
        #expect(try await api.environment.eventCount() == before, "a dry run appends nothing")

        let added = try await api.curl("POST", "/api/v1/jobs", token: admin, body: document)
        #expect(added.status == 201, "\(added.body)")
        #expect(added.headers.lowercased().contains("location: /api/v1/jobs/web-nightly"), "\(added.headers)")
        #expect(added.headers.contains("\"1\""), "ETag: \(added.headers)")
        let id = try #require(added.json["id"] as? String)
        let recorded = try await api.environment.scalar(
            "SELECT (metadata ->> 'actor') || ' ' || (metadata ->> 'client_address') FROM tidemark.events WHERE stream_id = 'job-\(id)'")
        #expect(recorded == "api:user-administrator 127.0.0.1")

        let again = try await api.curl(
            "POST", "/api/v1/jobs", token: admin, body: document.replacingOccurrences(of: "web-nightly", with: "WEB-nightly"))
        #expect(again.status == 409, "\(again.body)")

        let yaml = try await api.curl("GET", "/api/v1/jobs/web-nightly", token: admin, headers: ["Accept: application/yaml"])
        #expect(
            yaml.status == 200 && yaml.body.contains("name: web-nightly") && yaml.body.contains("objects: [vm:lab-vm-000]"), "\(yaml.body)")
        let edited = yaml.body.replacingOccurrences(of: "objects: [vm:lab-vm-000]", with: "objects: [vm:lab-vm-000, vm:lab-vm-001]")

        let missingVersion = try await api.curl(
            "PUT", "/api/v1/jobs/web-nightly", token: admin, body: edited, contentType: "application/yaml")
        #expect(missingVersion.status == 428, "\(missingVersion.body)")
        let replaced = try await api.curl(
            "PUT", "/api/v1/jobs/web-nightly", token: admin, headers: ["If-Match: \"1\""], body: edited, contentType: "application/yaml")
        #expect(replaced.status == 200 && replaced.json["definition_version"] as? Int == 2, "\(replaced.body)")
        #expect((replaced.json["changes"] as? [[String: Any]])?.first?["changed_fields"] as? [String] == ["objects"], "\(replaced.body)")

        let stale = try await api.curl(
            "PUT", "/api/v1/jobs/web-nightly", token: admin, headers: ["If-Match: \"1\""],
            body: edited.replacingOccurrences(of: "daily at 22:00", with: "daily at 23:00"), contentType: "application/yaml")
        #expect(stale.status == 412 && (stale.json["detail"] as? String)?.contains("changed since in objects") == true, "\(stale.body)")
        let same = try await api.curl(
            "PUT", "/api/v1/jobs/web-nightly", token: admin, headers: ["If-Match: \"2\""], body: edited, contentType: "application/yaml")
        #expect(same.status == 200 && (same.json["changes"] as? [Any])?.isEmpty == true && same.json["definition_version"] as? Int == 2)

        let renamed = try await api.curl(
            "PUT", "/api/v1/jobs/web-nightly", token: admin, headers: ["If-Match: W/\"2\""],
            body: edited.replacingOccurrences(of: "name: web-nightly", with: "name: web-weekly"), contentType: "application/yaml")
        #expect(renamed.status == 200 && renamed.json["job_name"] as? String == "web-weekly", "\(renamed.body)")
        #expect((renamed.json["changes"] as? [[String: Any]])?.map { $0["event_type"] as? String } == ["JobRenamed"], "\(renamed.body)")

        // The repository is used by jobs: refused, named.
        let inUse = try await api.curl("DELETE", "/api/v1/repositories/repo", token: admin)
        #expect(inUse.status == 409 && (inUse.json["detail"] as? String)?.contains("still used by") == true, "\(inUse.body)")
        let staleRemoval = try await api.curl("DELETE", "/api/v1/jobs/web-weekly", token: admin, headers: ["If-Match: \"1\""])
        #expect(staleRemoval.status == 412, "\(staleRemoval.body)")
        let dryRemoval = try await api.curl("DELETE", "/api/v1/jobs/web-weekly?dry_run=true", token: admin)
        #expect(dryRemoval.status == 200 && dryRemoval.json["dry_run"] as? Bool == true, "\(dryRemoval.body)")
        let removed = try await api.curl("DELETE", "/api/v1/jobs/web-weekly", token: admin, headers: ["If-Match: \"3\""])
        #expect(removed.status == 200, "\(removed.body)")
        #expect((removed.json["changes"] as? [[String: Any]])?.first?["event_type"] as? String == "JobRemoved", "\(removed.body)")
        let gone = try await api.curl("GET", "/api/v1/jobs/web-weekly", token: admin, headers: ["Accept: application/yaml"])
        #expect(gone.status == 404 && (gone.json["detail"] as? String)?.contains(api.environment.jobName) == true, "\(gone.body)")
        let types = try await api.environment.scalar(
            "SELECT string_agg(event_type, ',' ORDER BY stream_version) FROM tidemark.events WHERE stream_id = 'job-\(id)'")
        #expect(types == "JobAdded,JobUpdated,JobRenamed,JobRemoved")

        // Its history, field by field, newest first, found by the last name it had; paged.
        let history = try await api.curl("GET", "/api/v1/jobs/web-weekly/history?limit=2", token: admin)
        let newest = try #require(history.json["items"] as? [[String: Any]], "\(history.body)")
        #expect(newest.map { $0["change"] as? String } == ["JobRemoved", "JobRenamed"], "\(history.body)")
        let rename = (newest.last?["fields"] as? [[String: Any]])?.first
        #expect(
            rename?["field"] as? String == "name" && rename?["before"] as? String == "web-nightly"
                && rename?["after"] as? String == "web-weekly")
        let nextPage = try #require(history.json["next"] as? String, "\(history.body)")
        #expect(nextPage == "/api/v1/jobs/web-weekly/history?limit=2&before=3")
        let older = try await api.curl("GET", nextPage, token: admin)
        let oldest = try #require(older.json["items"] as? [[String: Any]], "\(older.body)")
        #expect(oldest.map { $0["change"] as? String } == ["JobUpdated", "JobAdded"] && older.json["next"] is NSNull, "\(older.body)")
        let objects = (oldest.first?["fields"] as? [[String: Any]])?.map { $0["field"] as? String }
        #expect(objects == ["objects"] && oldest.first?["actor"] as? String == "api:user-administrator", "\(older.body)")
        #expect(try await api.curl("GET", "/api/v1/jobs/no-such-job/history", token: admin).status == 404)
        #expect(try await api.curl("GET", "/api/v1/jobs/web-weekly/history?before=0", token: admin).status == 400)

        // The other kinds: one object with its version as ETag.
        let repository = try await api.curl("GET", "/api/v1/repositories/REPO", token: admin)
        #expect(repository.status == 200 && repository.json["repository_name"] as? String == "repo" && repository.headers.contains("\"1\""))
    }

    @Test("a show after a change waits for the views to reach the log's version; a view held back is 503, never a stale ETag")
    func showFollowsTheLog() async throws {
        let api = try await APIServerHarness.start()
        defer { Task { try? await api.stop() } }
        let admin = try #require(api.tokens["administrator"])
        let document =
            #"{"name": "read-back", "description": "first", "server": "lab", "repository": "repo", "objects": ["vm:lab-vm-000"]}"#
        #expect(try await api.curl("POST", "/api/v1/jobs", token: admin, body: document).status == 201)
        let shown = try await api.curl("GET", "/api/v1/jobs/read-back", token: admin)
        #expect(shown.status == 200 && shown.headers.contains("\"1\"") && shown.json["definition_version"] as? Int == 1, "\(shown.body)")

        // The projector cannot write the job's row while another transaction holds it.
        let holder = try await PostgresConnection.connect(api.environment.database.administrator)
        defer { Task { await holder.close() } }
        try await holder.query("BEGIN")
        try await holder.query("SELECT 1 FROM projection.jobs WHERE name = 'read-back' FOR UPDATE")
        let changed = document.replacingOccurrences(of: "first", with: "second")
        let replaced = try await api.curl("PUT", "/api/v1/jobs/read-back", token: admin, headers: ["If-Match: \"1\""], body: changed)
        #expect(replaced.status == 200 && replaced.json["definition_version"] as? Int == 2, "\(replaced.body)")

        let behind = try await api.curl("GET", "/api/v1/jobs/read-back", token: admin)
        #expect(behind.status == 503 && behind.headers.lowercased().contains("retry-after: 1"), "\(behind.status) \(behind.body)")
        #expect((behind.json["detail"] as? String)?.contains("projector is catching up") == true, "\(behind.body)")

        // Released while a show waits: the show answers with the log's version — or, on a
        // machine too loaded for the projector to catch up within the show's wait, 503 again
        // and the log's version at a later show; never the old version.
        let waiting = Task { try await api.curl("GET", "/api/v1/jobs/read-back", token: admin) }
        try await Task.sleep(for: .milliseconds(300))
        try await holder.query("ROLLBACK")
        var caughtUp = try await waiting.value
        for _ in 0..<30 where caughtUp.status == 503 {
            try await Task.sleep(for: .seconds(1))
            caughtUp = try await api.curl("GET", "/api/v1/jobs/read-back", token: admin)
        }
        #expect(caughtUp.status == 200 && caughtUp.headers.contains("\"2\""), "\(caughtUp.status) \(caughtUp.headers)")
        #expect(caughtUp.json["definition_version"] as? Int == 2 && caughtUp.json["description"] as? String == "second", "\(caughtUp.body)")
        #expect(try await api.curl("GET", "/api/v1/jobs/READ-back", token: admin).status == 200, "names are compared without case")
    }

    @Test(
        "a repository service is registered through the API once it answered through the pinned certificate; a wrong pin or token file adds nothing"
    )
    func repositoryService() async throws {
        let api = try await APIServerHarness.start()
        defer { Task { try? await api.stop() } }
        let admin = try #require(api.tokens["administrator"])
        let folder = api.environment.folder
        let servicePath = folder.appendingPathComponent("offsite").path
        let issued = try await offThePool {
            try TidemarkProcess.run(["repository", "serve", "--path", servicePath, "--issue-token", "backup-1"], in: folder)
        }
        let token = try #require(issued.output.split(separator: "\n").first { $0.hasPrefix("tmr_") }.map(String.init), "\(issued.output)")
        let service = try RunningTidemark(["repository", "serve", "--path", servicePath, "--listen", "127.0.0.1:0"], in: folder)
        defer {
            service.signal(SIGTERM)
            Task { _ = try? await service.waitForExit(seconds: 30) }
        }
        #expect(try await service.waitFor("certificate SHA-256"), "\(service.output)")
        let line = try #require(service.output.split(separator: "\n").first { $0.contains("certificate SHA-256") })
        let words = line.split(separator: " ")
        let (url, thumbprint) = (String(words[3].dropLast()), String(words[words.count - 1]))
        let secrets = folder.appendingPathComponent("data/secrets")
        try FileManager.default.createDirectory(at: secrets, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let tokenFile = secrets.appendingPathComponent("offsite.token").path
        #expect(FileManager.default.createFile(atPath: tokenFile, contents: Data(token.utf8), attributes: [.posixPermissions: 0o600]))
        let before = try await api.environment.eventCount()

        let wrongPin = try await api.curl(
            "POST", "/api/v1/repositories", token: admin,
            body:
                #"{"name": "offsite", "url": "\#(url)", "thumbprint": "\#(String(repeating: "AB", count: 32))", "token_file": "\#(tokenFile)"}"#
        )
        #expect(wrongPin.status == 400 && (wrongPin.json["detail"] as? String)?.contains("not the pinned one") == true, "\(wrongPin.body)")
        let outside = try await api.curl(
            "POST", "/api/v1/repositories", token: admin,
            body: #"{"name": "offsite", "url": "\#(url)", "thumbprint": "\#(thumbprint)", "token_file": "/etc/hostname"}"#)
        #expect(outside.status == 400 && (outside.json["detail"] as? String)?.contains("secrets folder") == true, "\(outside.body)")
        let both = try await api.curl(
            "POST", "/api/v1/repositories", token: admin,
            body: #"{"name": "offsite", "path": "/srv/x", "url": "\#(url)", "thumbprint": "\#(thumbprint)", "token_file": "\#(tokenFile)"}"#
        )
        #expect(both.status == 400 && (both.json["detail"] as? String)?.contains("not both") == true, "\(both.body)")
        #expect(try await api.environment.eventCount() == before, "nothing refused is appended")

        let added = try await api.curl(
            "POST", "/api/v1/repositories", token: admin,
            body: #"{"name": "offsite", "url": "\#(url)", "thumbprint": "\#(thumbprint)", "token_file": "\#(tokenFile)"}"#)
        #expect(added.status == 201, "\(added.body)")
        let shown = try await api.curl("GET", "/api/v1/repositories/offsite", token: admin)
        #expect(shown.status == 200 && shown.json["service_url"] as? String == url && !shown.body.contains(token), "\(shown.body)")
    }

    @Test("bad bodies: 400 with the line, unknown key, unknown reference; 413, 415, 403; nested too deep; nothing appended")
    func badBodies() async throws {
        let api = try await APIServerHarness.start()
        defer { Task { try? await api.stop() } }
        let admin = try #require(api.tokens["administrator"])
        let job = api.environment.jobName
        let before = try await api.environment.eventCount()

        let malformed = try await api.curl("POST", "/api/v1/jobs", token: admin, body: "{\n\"name\": \"x\",\n\"server\" \"lab\"\n}")
        #expect(malformed.status == 400 && (malformed.json["detail"] as? String)?.contains("line 3") == true, "\(malformed.body)")
        let badYAML = try await api.curl(
            "POST", "/api/v1/jobs", token: admin, body: "name: x\nserver: [lab\nrepository: repo\n", contentType: "application/yaml")
        #expect(badYAML.status == 400 && (badYAML.json["detail"] as? String)?.contains("line") == true, "\(badYAML.body)")
        let unknownKey = try await api.curl(
            "POST", "/api/v1/jobs", token: admin,
            body: #"{"name": "x", "server": "lab", "repository": "repo", "objects": ["vm:a"], "retension": "7 days"}"#)
        #expect(
            unknownKey.status == 400
                && (unknownKey.json["detail"] as? String)?.contains("unknown key 'retension' (did you mean 'retention'?)") == true,
            "\(unknownKey.body)")
        let unknownRepository = try await api.curl(
            "POST", "/api/v1/jobs", token: admin, body: #"{"name": "x", "server": "lab", "repository": "nope", "objects": ["vm:a"]}"#)
        #expect(
            unknownRepository.status == 400 && (unknownRepository.json["detail"] as? String)?.contains("'nope'") == true,
            "\(unknownRepository.body)")
        let two = try await api.curl("POST", "/api/v1/jobs", token: admin, body: "name: a\n---\nname: b\n", contentType: "application/yaml")
        #expect(two.status == 400 && (two.json["detail"] as? String)?.contains("2 jobs") == true, "\(two.body)")
        let array = try await api.curl("POST", "/api/v1/jobs", token: admin, body: "[1, 2]")
        #expect(array.status == 400, "\(array.body)")
        let plain = try await api.curl("POST", "/api/v1/jobs", token: admin, body: "name: x", contentType: "text/plain")
        #expect(plain.status == 415, "\(plain.body)")
        let huge = try await api.curl(
            "POST", "/api/v1/jobs", token: admin, body: "{\"description\": \"" + String(repeating: "x", count: 2 << 20) + "\"}")
        #expect(huge.status == 413, "\(huge.status) \(huge.body)")
        let deep = try await api.curl(
            "POST", "/api/v1/jobs", token: admin, body: String(repeating: "- ", count: 400_000) + "x", contentType: "application/yaml")
        #expect(deep.status == 400 && (deep.json["detail"] as? String)?.contains("nested more than") == true, "\(deep.body)")
        let aliases = try await api.curl(
            "POST", "/api/v1/jobs", token: admin, body: "name: &n web\nserver: *n\nrepository: repo\nobjects: [vm:a]\n",
            contentType: "application/yaml")
        #expect(aliases.status == 400 && (aliases.json["detail"] as? String)?.contains("anchors and aliases") == true, "\(aliases.body)")
        let nul = try await api.curl(
            "POST", "/api/v1/jobs", token: admin,
            body: #"{"name": "x", "description": "a\u0000b", "server": "lab", "repository": "repo", "objects": ["vm:a"]}"#)
        #expect(nul.status == 400 && (nul.json["detail"] as? String)?.contains("control character") == true, "\(nul.body)")
        for type in [";", " ", "; charset=utf-8"] {
            let odd = try await api.curl("POST", "/api/v1/jobs", token: admin, body: "{}", contentType: type)
            #expect(odd.status == 415, "Content-Type '\(type)': \(odd.status) \(odd.body)")
        }
        let badVersion = try await api.curl(
            "PUT", "/api/v1/jobs/\(job)", token: admin, headers: ["If-Match: banana"], body: #"{"name": "\#(job)"}"#)
        #expect(badVersion.status == 400 && (badVersion.json["detail"] as? String)?.contains("If-Match") == true, "\(badVersion.body)")
        let unknownJob = try await api.curl(
            "PUT", "/api/v1/jobs/nightly", token: admin, headers: ["If-Match: \"1\""], body: #"{"name": "nightly"}"#)
        #expect(unknownJob.status == 404, "\(unknownJob.body)")
        let badDryRun = try await api.curl("DELETE", "/api/v1/jobs/\(job)?dry_run=maybe", token: admin)
        #expect(badDryRun.status == 400, "\(badDryRun.body)")
        for role in ["operator", "restore-operator", "auditor", "viewer"] {
            let refused = try await api.curl(
                "POST", "/api/v1/jobs", token: api.tokens[role],
                body: #"{"name": "x", "server": "lab", "repository": "repo", "objects": ["vm:a"]}"#)
            #expect(
                refused.status == 403 && (refused.json["detail"] as? String)?.contains("catalog:write") == true, "\(role): \(refused.body)")
            let removal = try await api.curl("DELETE", "/api/v1/jobs/\(job)", token: api.tokens[role])
            #expect(removal.status == 403, "\(role): \(removal.body)")
        }
        #expect(try await api.curl("GET", "/healthz").status == 200, "the server still answers")
        #expect(try await api.environment.eventCount() == before, "nothing refused appended anything")
    }
}
