import Foundation
import TestSupport
import Testing

/// The web console in a real browser (Debian's Chromium under Selenium, `Tests/Console/
/// console_browser.py`) against a live `tidemark server`: sign-in with a TOTP code, a job
/// started and followed live to success, markup in a description shown as text, a restore
/// operator without job controls, the audit page, screenshots at desktop and phone sizes.
/// The console's cookie rules are checked with curl beside it.
@Suite(
    "Console: the web console in Chromium", .timeLimit(.minutes(10)),
    .enabled(
        if: FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver")
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/oathtool")))
struct ConsoleBrowserTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Console/console_browser.py").path

    @Test("sign in with TOTP, start a job and watch it succeed live, markup stays text, roles see their controls, audit lists the start")
    func browser() async throws {
        let api = try await APIServerHarness.start(guestFiles: true)
        defer { Task { try? await api.stop() } }
        let environment = api.environment
        let data = environment.folder.appendingPathComponent("data").path
        let password = "correct horse battery staple"
        let others = "another long pass phrase"
        #expect(try environment.tidemark(["user", "password", "user-operator"], input: password + "\n").status == 0)
        for user in ["user-restore-operator", "user-auditor", "user-administrator"] {
            #expect(try environment.tidemark(["user", "password", user], input: others + "\n").status == 0)
        }
        let enabled = try environment.tidemark(["user", "second-factor", "user-operator", "on", "--data-dir", data])
        let url = try #require(enabled.output.split(separator: "\n").first(where: { $0.hasPrefix("otpauth://totp/") }), "\(enabled.output)")
        let secret = try #require(URLComponents(string: String(url))?.queryItems?.first(where: { $0.name == "secret" })?.value)
        // A description with markup, which must show as text.
        let probe = #"<img src=x onerror="window.tidemarkProbe=true"> nightly"#
        #expect(try environment.tidemark(["job", "update", environment.jobName, "--description", probe]).status == 0)
        // A second administrator asks to remove a spare job: it waits in the audit page for the first.
        let admin = try #require(api.tokens["administrator"])
        #expect(try environment.tidemark(["user", "add", "second-admin", "--role", "administrator"]).status == 0)
        let second = try environment.token(for: "second-admin")
        let yaml = try await api.curl("GET", "/api/v1/jobs/\(environment.jobName)", token: admin, headers: ["Accept: application/yaml"])
        let spare = yaml.body.replacingOccurrences(of: "name: \(environment.jobName)\n", with: "name: spare\n")
        let added = try await api.curl("POST", "/api/v1/jobs", token: admin, body: spare, contentType: "application/yaml")
        #expect(added.status == 201, "\(added.body)")
        let asked = try await api.curl("DELETE", "/api/v1/jobs/spare", token: second)
        #expect(asked.status == 202, "\(asked.body)")

        let screenshots =
            ProcessInfo.processInfo.environment["TIDEMARK_CONSOLE_SCREENSHOTS"]
            ?? environment.folder.appendingPathComponent("screenshots").path
        let run = try await offThePool {
            try Program.run(
                "/usr/bin/env",
                ["python3", Self.script, api.url, api.certificate, password, secret, others, environment.jobName, screenshots, "spare"],
                in: environment.folder, timeLimit: 420)
        }
        #expect(run.status == 0, "the browser test:\n\(run.output.suffix(8_000))")
        #expect(run.output.contains("console: every step passed"), "\(run.output.suffix(2_000))")
        for name in ["dashboard", "jobs", "job", "sessions", "session", "infrastructure", "statistics"] {
            for size in ["desktop", "phone"] {
                #expect(FileManager.default.fileExists(atPath: "\(screenshots)/\(name)-\(size).png"), "no screenshot of \(name) (\(size))")
            }
        }
    }

    @Test("the console's cookie: set HttpOnly, Secure, SameSite=Strict; a change without its CSRF value refused; sign-out revokes it")
    func cookieRules() async throws {
        let api = try await APIServerHarness.start()
        defer { Task { try? await api.stop() } }
        let password = "correct horse battery staple"
        #expect(try api.environment.tidemark(["user", "password", "user-operator"], input: password + "\n").status == 0)
        let body = #"{"user": "user-operator", "password": "\#(password)", "console": true}"#
        let signedIn = try await api.curl("POST", "/api/v1/sign-in", body: body)
        #expect(signedIn.status == 200 && signedIn.json["token"] == nil, "the token is not in the reply: \(signedIn.body)")
        let csrf = try #require(signedIn.json["csrf_token"] as? String)
        let cookieLine = try #require(
            signedIn.headers.split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("set-cookie: tidemark_session=") }),
            "\(signedIn.headers)")
        #expect(cookieLine.contains("HttpOnly") && cookieLine.contains("Secure") && cookieLine.contains("SameSite=Strict"), "\(cookieLine)")
        let session = String(cookieLine.dropFirst("set-cookie: tidemark_session=".count).prefix(while: { $0 != ";" }))
        let cookie = "Cookie: tidemark_session=\(session)"

        #expect(try await api.curl("GET", "/api/v1/whoami", headers: [cookie]).status == 200)
        let before = try await api.environment.scalar("SELECT count(*) FROM tidemark.events")
        let start = "/api/v1/jobs/\(api.environment.jobName)/start"
        let forged = try await api.curl("POST", start, headers: [cookie])
        #expect(forged.status == 403 && forged.body.contains("X-CSRF-Token"), "\(forged.body)")
        let wrong = try await api.curl("POST", start, headers: [cookie, "X-CSRF-Token: \(String(repeating: "0", count: 64))"])
        #expect(wrong.status == 403)
        #expect(try await api.environment.scalar("SELECT count(*) FROM tidemark.events") == before, "a refused change appends nothing")
        let started = try await api.curl("POST", start, headers: [cookie, "X-CSRF-Token: \(csrf)"])
        #expect(started.status == 202, "\(started.body)")

        // The console's page: a policy that allows this origin's scripts only.
        let page = try await api.curl("GET", "/")
        #expect(page.status == 200 && page.body.contains("/ui/app.js"))
        #expect(page.headers.lowercased().contains("content-security-policy: default-src 'none'; script-src 'self';"), "\(page.headers)")
        #expect(try await api.curl("GET", "/ui/app.js").status == 200)
        #expect(try await api.curl("GET", "/ui/..%2F..%2Fopenapi.yaml").status == 404)
        #expect(try await api.curl("GET", "/ui/index.html").status == 404, "the page is served at / only")

        let signedOut = try await api.curl("POST", "/api/v1/sign-out", headers: [cookie, "X-CSRF-Token: \(csrf)"])
        #expect(
            signedOut.status == 204 && signedOut.headers.lowercased().contains("set-cookie: tidemark_session=;"), "\(signedOut.headers)")
        #expect(try await api.curl("GET", "/api/v1/whoami", headers: [cookie]).status == 401, "a signed-out session is refused")
        let revoked = try await api.environment.scalar(
            "SELECT count(*) FROM tidemark.events WHERE event_type = 'TokenRevoked' AND metadata ->> 'actor' = 'api:user-operator'")
        #expect(revoked == "1")
    }

    @Test("a console session unused past the idle limit is refused; the page's own refreshes do not keep it alive")
    func idleExpiry() async throws {
        // Wide enough that a loaded CI machine's slow requests stay inside it; the checks below
        // also measure each gap from the test's side, so a slow step cannot pass by accident.
        let idleLimit = 40.0
        let api = try await APIServerHarness.start(serverEnvironment: ["TIDEMARK_CONSOLE_IDLE_SECONDS": "\(Int(idleLimit))"])
        defer { Task { try? await api.stop() } }
        let password = "correct horse battery staple"
        #expect(try api.environment.tidemark(["user", "password", "user-viewer"], input: password + "\n").status == 0)
        let signedIn = try await api.curl(
            "POST", "/api/v1/sign-in", body: #"{"user": "user-viewer", "password": "\#(password)", "console": true}"#)
        let cookieLine = try #require(
            signedIn.headers.split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("set-cookie: tidemark_session=") }))
        let cookie = "Cookie: tidemark_session=" + cookieLine.dropFirst("set-cookie: tidemark_session=".count).prefix(while: { $0 != ";" })
        let clock = ContinuousClock()
        // The server notes the use after this instant, so any gap it sees is at most what the test sees.
        let usedFrom = clock.now
        let dashboard = try await api.curl("GET", "/api/v1/dashboard", headers: [cookie])
        #expect(
            dashboard.status == 200 && (dashboard.json["last_7_days"] as? [String: Any]) != nil,
            "\(dashboard.body)\n\(api.server.output.split(separator: "\n").filter { $0.contains("failed") }.joined(separator: "\n"))")
        let usedUntil = clock.now
        for _ in 0..<2 {
            try await Task.sleep(for: .seconds(1))
            let refresh = try await api.curl("GET", "/api/v1/dashboard", headers: [cookie, "X-Tidemark-Background: 1"])
            let gap = clock.now - usedFrom
            #expect(
                gap > .seconds(idleLimit) || refresh.status == 200, "a refresh \(gap) after the last use: \(refresh.status) \(refresh.body)"
            )
        }
        try await Task.sleep(until: usedUntil + .seconds(idleLimit + 1.5))
        #expect(try await api.curl("GET", "/api/v1/dashboard", headers: [cookie]).status == 401, "idle past the limit, refreshes or not")
        #expect(try await api.curl("GET", "/api/v1/dashboard", headers: [cookie]).status == 401, "and refused from then on")
        // Revoked in the log: a restarted or another server refuses it too.
        let revoked = try await api.environment.scalar(
            "SELECT count(*) FROM tidemark.events WHERE event_type = 'TokenRevoked' AND metadata ->> 'actor' = 'server:idle-expiry'")
        #expect(revoked == "1")
        let other = try await api.another()
        let elsewhere = try await other.curl("GET", "/api/v1/dashboard", headers: [cookie])
        other.server.signal(SIGTERM)
        _ = try await other.server.waitForExit(seconds: 30)
        #expect(elsewhere.status == 401, "another server refuses the expired session")
        // An API token is not a console session: no idle limit.
        #expect(try await api.curl("GET", "/api/v1/dashboard", token: api.tokens["viewer"]).status == 200)
    }
}
