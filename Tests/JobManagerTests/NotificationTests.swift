import Crypto
import Foundation
import TestSupport
import Testing

/// A failed session told by e-mail to a real SMTP server (aiosmtpd: STARTTLS and AUTH
/// required) and by a signed webhook that fails twice before it accepts; every attempt an
/// event in `reporting.notifications`.
@Suite(
    "Notifications: mail and webhooks when sessions end", .timeLimit(.minutes(5)),
    .enabled(if: (try? Program.run("/usr/bin/env", ["python3", "-c", "import aiosmtpd"]).status) == 0))
struct NotificationTests {
    static var peers: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Tools/peers")
    }

    /// A peer program left running, its output in a file; killed when the test ends.
    final class Peer: @unchecked Sendable {
        let process = Process()
        let log: URL

        init(_ program: String, _ arguments: [String], log: URL) throws {
            self.log = log
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let handle = try FileHandle(forWritingTo: log)
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", program] + arguments
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
        }

        var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

        func waitUntilListening() async throws {
            for _ in 0..<100 where !output.contains("listening") { try await Task.sleep(for: .milliseconds(100)) }
            guard output.contains("listening") else { throw TestSetupError("\(process.arguments ?? []) did not start:\n\(output)") }
        }

        deinit {
            process.terminate()
            for _ in 0..<50 where process.isRunning { usleep(100_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
    }

    static func files(in folder: URL, ending suffix: String) -> [URL] {
        ((try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)) ?? [])
            .filter { $0.lastPathComponent.hasSuffix(suffix) }.sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    @Test("a failed session: a mail through STARTTLS and AUTH, a signed webhook after two refusals, each attempt recorded")
    func failedSession() async throws {
        let secret = "webhook-secret-\(UUID().uuidString.prefix(8))"
        let api = try await APIServerHarness.start(serverEnvironment: [
            "TM_SMTP_PASSWORD": "mail-password", "TM_WEBHOOK_SECRET": secret, "TIDEMARK_NOTIFY_BACKOFF_SECONDS": "0.2",
            "TIDEMARK_NOTIFY_SUMMARY_SECONDS": "1",
        ])
        defer { Task { try? await api.stop() } }
        let environment = api.environment
        let mailbox = environment.folder.appendingPathComponent("mailbox")
        let hooks = environment.folder.appendingPathComponent("hooks")
        for folder in [mailbox, hooks] { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }
        let smtpPort = try LoopbackPort.free()
        let key = URL(fileURLWithPath: api.certificate).deletingPathExtension().appendingPathExtension("key").path
        let smtp = try Peer(
            Self.peers.appendingPathComponent("smtp-sink").path,
            ["127.0.0.1", "\(smtpPort)", mailbox.path, api.certificate, key, "tidemark", "mail-password"],
            log: environment.folder.appendingPathComponent("smtp.log"))
        let hookPort = try LoopbackPort.free()
        let webhook = try Peer(
            Self.peers.appendingPathComponent("webhook-sink").path, ["127.0.0.1", "\(hookPort)", hooks.path, "2"],
            log: environment.folder.appendingPathComponent("webhook.log"))
        try await smtp.waitUntilListening()
        try await webhook.waitUntilListening()

        let mail = try environment.tidemark([
            "notify", "add", "ops-mail", "--email", "ops@example.com,oncall@example.com", "--smtp", "smtp://127.0.0.1:\(smtpPort)",
            "--from", "tidemark@example.com", "--smtp-user", "tidemark", "--smtp-password", "env:TM_SMTP_PASSWORD", "--ca-file",
            api.certificate, "--on", "failure",
        ])
        #expect(mail.status == 0, "\(mail.output)")
        let hook = try environment.tidemark([
            "notify", "add", "ops-hook", "--webhook", "http://127.0.0.1:\(hookPort)/tidemark", "--secret", "env:TM_WEBHOOK_SECRET", "--on",
            "failure,warning",
        ])
        #expect(hook.status == 0, "\(hook.output)")

        // The repository's folder becomes a file: the session fails with a reason.
        try? FileManager.default.removeItem(atPath: environment.repositoryPath)
        try Data("not a repository".utf8).write(to: URL(fileURLWithPath: environment.repositoryPath))
        let started = try await api.curl("POST", "/api/v1/jobs/\(environment.jobName)/start", token: api.tokens["operator"])
        let session = try #require(started.json["session_id"] as? String, "\(started.body)")

        let deadline = Date().addingTimeInterval(90)
        while Date() < deadline && (Self.files(in: mailbox, ending: ".eml").isEmpty || Self.files(in: hooks, ending: ".json").count < 3) {
            try await Task.sleep(for: .milliseconds(200))
        }
        let mails = Self.files(in: mailbox, ending: ".eml")
        #expect(mails.count == 1, "\(smtp.output)\n\(api.server.output.suffix(3_000))")
        if let first = mails.first {
            let text = try String(contentsOf: first, encoding: .utf8)
            #expect(text.contains("X-Envelope-To: ops@example.com,oncall@example.com"), "\(text)")
            #expect(text.contains("Subject: [Tidemark] failed: job \(environment.jobName)"), "\(text)")
            #expect(text.contains(session) && text.contains("Why: "), "\(text)")
        }
        let requests = try Self.files(in: hooks, ending: ".json").map {
            try JSONSerialization.jsonObject(with: Data(contentsOf: $0)) as? [String: Any] ?? [:]
        }
        #expect(requests.map { $0["status"] as? Int } == [503, 503, 204], "\(requests)")
        let deliveries = Set(requests.compactMap { ($0["headers"] as? [String: String])?["x-tidemark-delivery"] })
        #expect(deliveries.count == 1, "the same delivery id on every attempt: \(deliveries)")
        if let last = requests.last, let body = last["body"] as? String, let headers = last["headers"] as? [String: String] {
            let mac = HMAC<SHA256>.authenticationCode(for: Data(body.utf8), using: SymmetricKey(data: Data(secret.utf8)))
            #expect(headers["x-tidemark-signature"] == "sha256=" + mac.map { String(format: "%02x", $0) }.joined())
            let payload = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
            #expect(payload?["session_id"] as? String == session && payload?["result"] as? String == "failed", "\(body)")
        }

        // Wait for the last attempt's event, then read the delivery log.
        var log = ""
        for _ in 0..<50 {
            log =
                try await environment.scalar(
                    "SELECT string_agg(channel || ' ' || attempt || ' ' || outcome || ' ' || coalesce(will_retry::text, '-'), ', ' ORDER BY position) FROM reporting.notifications WHERE session_id = '\(session)'"
                ) ?? ""
            if log.contains("ops-hook 3 sent") && log.contains("ops-mail 1 sent") { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(log.contains("ops-mail 1 sent -"), "\(log)")
        #expect(
            log.contains("ops-hook 1 failed true, ") && log.contains("ops-hook 2 failed true, ") && log.contains("ops-hook 3 sent -"),
            "\(log)")

        // A daily summary: due at the minute after the failure, sent once, with the failed session in it.
        let clock = Calendar(identifier: .gregorian)
        let seconds = 60 - clock.component(.second, from: Date()) + 1
        try await Task.sleep(for: .seconds(seconds))
        var utc = clock
        utc.timeZone = TimeZone(identifier: "UTC")!
        let now = utc.dateComponents([.hour, .minute], from: Date())
        let at = String(format: "%02d:%02d", now.hour ?? 0, now.minute ?? 0)
        let summaryChannel = try environment.tidemark([
            "notify", "add", "daily", "--webhook", "http://127.0.0.1:\(hookPort)/summary", "--secret", "env:TM_WEBHOOK_SECRET", "--on",
            "summary", "--summary-at", at, "--time-zone", "UTC",
        ])
        #expect(summaryChannel.status == 0 && summaryChannel.output.contains("summary at \(at) UTC"), "\(summaryChannel.output)")
        let summaryDeadline = Date().addingTimeInterval(60)
        while Date() < summaryDeadline && Self.files(in: hooks, ending: ".json").count < 4 { try await Task.sleep(for: .milliseconds(200)) }
        try await Task.sleep(for: .seconds(3))  // a few more passes: still sent once
        let all = try Self.files(in: hooks, ending: ".json").map {
            try JSONSerialization.jsonObject(with: Data(contentsOf: $0)) as? [String: Any] ?? [:]
        }
        #expect(all.count == 4, "\(all)\n\(api.server.output.suffix(3_000))")
        if all.count == 4, let body = all[3]["body"] as? String {
            let summary = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
            #expect(summary?["event"] as? String == "summary.daily", "\(body)")
            #expect((summary?["sessions"] as? [String: Any])?["failed"] as? Int == 1, "\(body)")
            let problems = summary?["problems"] as? [[String: Any]] ?? []
            #expect(problems.first?["session_id"] as? String == session, "\(body)")
        }
        let summaryLog = try await environment.scalar(
            "SELECT string_agg(channel || ' ' || session_result || ' ' || outcome, ', ') FROM reporting.notifications WHERE session_id LIKE 'summary-%'"
        )
        #expect(summaryLog == "daily summary sent", "\(summaryLog ?? "nil")")

        // No secret in the log.
        let leaked = try await environment.scalar(
            "SELECT count(*)::text FROM tidemark.events WHERE data::text LIKE '%mail-password%' OR data::text LIKE '%\(secret)%'")
        #expect(leaked == "0")
    }

    @Test("bad channels are refused with what to fix, and nothing is recorded")
    func badChannels() async throws {
        let environment = try await JobEnvironment.make(vms: 1, diskSize: 1 << 20)
        defer { environment.remove() }
        let before = try await environment.eventCount()
        let cases: [([String], String)] = [
            (["--email", "not-an-address", "--smtp", "smtp://127.0.0.1:25", "--from", "a@b.example"], "is not an e-mail address"),
            (["--email", "a@b.example", "--from", "a@b.example"], "--email needs --smtp and --from"),
            (["--email", "a@b.example", "--smtp", "http://x", "--from", "a@b.example"], "is not an SMTP server"),
            (["--webhook", "https://hooks.example/x"], "--webhook needs --secret"),
            (["--webhook", "ftp://hooks.example/x", "--secret", "env:X"], "is not a webhook URL"),
            (
                ["--webhook", "https://hooks.example/x", "--secret", "env:X", "--on", "sometimes"],
                "is not failure, warning, success or summary"
            ),
            (["--webhook", "https://hooks.example/x", "--secret", "env:X", "--on", "summary", "--summary-at", "25:00"], "--summary-at: "),
            (["--webhook", "https://hooks.example/x", "--secret", "env:X", "--summary-at", "08:00"], "goes with --on summary"),
            (
                ["--webhook", "https://hooks.example/x", "--secret", "env:X", "--on", "summary", "--time-zone", "Mars/Olympus"],
                "is not a time zone"
            ),
            (
                [
                    "--email", "a@b.example", "--smtp", "smtp://h:25", "--from", "a@b.example", "--webhook", "https://h/x", "--secret",
                    "env:X",
                ], "either --email or --webhook"
            ),
            (["--email", "a@b.example", "--smtp", "smtp://h:25", "--from", "a@b.example", "--smtp-user", "u"], "go together"),
            (["--email", "a@b.example", "--smtp", "smtp://u:secret@h:25", "--from", "a@b.example"], "carries a user or password"),
            (["--webhook", "https://u:secret@h.example/x", "--secret", "env:X"], "carries a user or password"),
        ]
        for (arguments, message) in cases {
            let run = try environment.tidemark(["notify", "add", "bad"] + arguments)
            #expect(run.status == 64 && run.output.contains(message), "\(arguments): \(run.output)")
        }
        #expect(try environment.tidemark(["notify", "add", "hook", "--webhook", "https://h.example/x", "--secret", "env:X"]).status == 0)
        let duplicate = try environment.tidemark(["notify", "add", "HOOK", "--webhook", "https://h.example/y", "--secret", "env:X"])
        #expect(duplicate.status == 1 && duplicate.output.contains("a channel named 'HOOK' exists"), "\(duplicate.output)")
        #expect(try await environment.eventCount() == before + 1)
        let listed = try environment.tidemark(["notify", "list"])
        #expect(listed.output.contains("hook") && listed.output.contains("https://h.example/x"), "\(listed.output)")
        #expect(try environment.tidemark(["notify", "remove", "hook"]).status == 0)
        #expect(try environment.tidemark(["notify", "remove", "hook"]).status == 1)
    }
}
