import Foundation
import TestSupport
import Testing

/// Password sign-in with a TOTP second factor, against the live server: codes computed by
/// Debian's `oathtool` as an authenticator app would; every attempt recorded; a user's
/// guessing throttled whatever the address; no secret in the log.
@Suite(
    "API: password sign-in with a TOTP second factor", .timeLimit(.minutes(10)),
    .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/oathtool")))
struct APISignInTests {
    func signIn(_ api: APIServerHarness, _ user: String, _ password: String, code: String? = nil) async throws -> APIServerHarness.Reply {
        var body: [String: String] = ["user": user, "password": password]
        if let code { body["code"] = code }
        let json = String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
        return try await api.curl("POST", "/api/v1/sign-in", body: json)
    }

    func oathtool(_ secret: String) throws -> String {
        let run = try Program.run("/usr/bin/oathtool", ["--totp", "-b", secret])
        return run.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("a password, then a code: a 12-hour token; wrong, missing or replayed codes refused; a user's guessing throttled")
    func signInWithSecondFactor() async throws {
        let api = try await APIServerHarness.start()
        defer { Task { try? await api.stop() } }
        let data = api.environment.folder.appendingPathComponent("data").path
        let password = "correct horse battery staple"
        #expect(try api.environment.tidemark(["user", "password", "user-operator"], input: "short\n").status != 0)
        #expect(try api.environment.tidemark(["user", "password", "user-operator"], input: password + "\n").status == 0)

        let signedIn = try await signIn(api, "user-operator", password)
        #expect(signedIn.status == 200 && signedIn.json["role"] as? String == "operator", "\(signedIn.body)")
        let token = try #require(signedIn.json["token"] as? String)
        let whoami = try await api.curl("GET", "/api/v1/whoami", token: token)
        #expect(whoami.json["name"] as? String == "user-operator", "\(whoami.body)")
        let wrong = try await signIn(api, "user-operator", password + "!")
        #expect(wrong.status == 401 && wrong.json["detail"] == nil)
        #expect(try await signIn(api, "nobody", password).status == 401)
        #expect(try await api.curl("POST", "/api/v1/sign-in", body: "{\"user\": 3}").status == 400)

        // A second factor: the secret is shown once, as an otpauth URL.
        let enabled = try api.environment.tidemark(["user", "second-factor", "user-operator", "on", "--data-dir", data])
        #expect(enabled.status == 0, "\(enabled.output)")
        let url = try #require(enabled.output.split(separator: "\n").first(where: { $0.hasPrefix("otpauth://totp/") }), "\(enabled.output)")
        let secret = try #require(URLComponents(string: String(url))?.queryItems?.first(where: { $0.name == "secret" })?.value)
        #expect(try await signIn(api, "user-operator", password).status == 401, "the code is asked for now")
        #expect(try await signIn(api, "user-operator", password, code: "000000").status == 401)
        let code = try oathtool(secret)
        let withCode = try await signIn(api, "user-operator", password, code: code)
        #expect(withCode.status == 200, "\(withCode.body)")
        #expect(try await signIn(api, "user-operator", password, code: code).status == 401, "a code is good once")
        // Once on any server, or before a restart: another server on the same log refuses it too.
        let other = try await api.another()
        let elsewhere = try await signIn(other, "user-operator", password, code: code)
        other.server.signal(SIGTERM)
        _ = try await other.server.waitForExit(seconds: 30)
        #expect(elsewhere.status == 401, "a code used on one server is not good on another: \(elsewhere.body)")

        let records = try await api.environment.scalar(
            "SELECT string_agg(CASE WHEN succeeded THEN 'ok ' || method ELSE 'refused ' || reason END, ', ' ORDER BY position) FROM reporting.sign_ins WHERE method <> 'token'"
        )
        #expect(
            records
                == "ok password, refused wrong password, refused unknown user, refused second factor missing, refused wrong or reused code, ok password+totp, refused wrong or reused code, refused wrong or reused code",
            "\(records ?? "")")
        // The next step's code given to two servers at the same instant: one sign-in, one refusal.
        let next = try Program.run("/usr/bin/oathtool", ["--totp", "-b", secret, "-N", "now + 30 seconds"]).output
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let racing = try await api.another()
        async let here = signIn(api, "user-operator", password, code: next)
        async let there = signIn(racing, "user-operator", password, code: next)
        let statuses = try await [here.status, there.status].sorted()
        racing.server.signal(SIGTERM)
        _ = try await racing.server.waitForExit(seconds: 30)
        #expect(statuses == [200, 401], "one code, two servers at once: \(statuses)")
        let raced = try await api.environment.scalar(
            "SELECT count(*) FILTER (WHERE succeeded)::text || '/' || count(*)::text FROM (SELECT succeeded FROM reporting.sign_ins WHERE method <> 'token' ORDER BY position DESC LIMIT 2) r"
        )
        #expect(raced == "1/2", "\(raced ?? "")")

        // Neither the password, its hash nor the TOTP secret is readable through the API or in the log's text.
        let trail = try await api.curl("GET", "/api/v1/audit?category=user", token: api.tokens["auditor"])
        #expect(trail.status == 200 && !trail.body.contains("$2") && !trail.body.contains("password_hash"), "\(trail.body)")
        let leaked = try await api.environment.scalar(
            "SELECT count(*)::text FROM tidemark.events WHERE data::text LIKE '%\(secret)%' OR data::text LIKE '%\(password)%'")
        #expect(leaked == "0")

        // Five refusals for one user in a quarter of an hour lock its password sign-ins, the right password included.
        for _ in 0..<5 { _ = try await signIn(api, "user-operator", "guess number \(UUID().uuidString.prefix(6))") }
        let locked = try await signIn(api, "user-operator", password, code: try oathtool(secret))
        #expect(locked.status == 429, "\(locked.status) \(locked.body)")
    }
}
