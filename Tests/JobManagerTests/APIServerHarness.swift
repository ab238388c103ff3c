import Foundation
import Postgres
import TestSupport

/// `tidemark server` with its HTTPS API on a free loopback port, over a job environment, with
/// one user and token per role, and `curl` (a real HTTP client) as the client.
struct APIServerHarness {
    let environment: JobEnvironment
    let server: RunningTidemark
    let url: String
    let certificate: String
    /// Role name → that user's token.
    let tokens: [String: String]

    static let roles = ["administrator", "operator", "restore-operator", "auditor", "viewer"]

    /// `guestFiles`: the lab's VMs carry an ext4 file system (16 MiB disks) and the job indexes it.
    static func start(
        vms: Int = 1, refusedTokensPerMinute: Int = 10, serverEnvironment: [String: String] = [:], guestFiles: Bool = false
    ) async throws -> APIServerHarness {
        let environment = try await JobEnvironment.make(vms: vms, diskSize: guestFiles ? 16 << 20 : 1 << 20, guestFiles: guestFiles)
        if guestFiles { try await environment.updateJob { $0.indexGuestFiles = true } }
        var tokens: [String: String] = [:]
        for role in roles {
            let name = "user-\(role)"
            let added = try environment.tidemark(["user", "add", name, "--role", role])
            guard added.status == 0 else { throw TestSetupError("user add failed:\n\(added.output)") }
            tokens[role] = try environment.token(for: name)
        }
        let data = environment.folder.appendingPathComponent("data")
        let (server, url) = try await launch(
            environment, refusedTokensPerMinute: refusedTokensPerMinute, serverEnvironment: serverEnvironment)
        return APIServerHarness(
            environment: environment, server: server, url: url, certificate: data.appendingPathComponent("tls/api.crt").path,
            tokens: tokens)
    }

    /// Another `tidemark server` on the same database and data folder (a second server, or this
    /// one after a restart), on a port of its own; the caller stops it.
    func another() async throws -> APIServerHarness {
        let (server, url) = try await Self.launch(environment, refusedTokensPerMinute: 10, serverEnvironment: [:])
        return APIServerHarness(environment: environment, server: server, url: url, certificate: certificate, tokens: tokens)
    }

    static func launch(
        _ environment: JobEnvironment, refusedTokensPerMinute: Int, serverEnvironment: [String: String]
    ) async throws -> (RunningTidemark, String) {
        let data = environment.folder.appendingPathComponent("data")
        let server = try RunningTidemark(
            [
                "server", "run", "--listen", "127.0.0.1:0", "--refused-tokens-per-minute", "\(refusedTokensPerMinute)", "--data-dir",
                data.path,
                "--database-url", environment.databaseURL,
            ],
            in: environment.folder,
            environment: ["TIDEMARK_CHECKPOINT_BYTES": "262144", "TIDEMARK_RETRY_WAIT_SECONDS": "0"].merging(serverEnvironment) { _, new in
                new
            })
        guard try await server.waitFor("API listening on ") else { throw TestSetupError("the API did not start:\n\(server.output)") }
        guard let line = server.output.split(separator: "\n").first(where: { $0.contains("API listening on ") }) else {
            throw TestSetupError("no address in:\n\(server.output)")
        }
        // Lists read the projections: a test's first list waits for the projector to take up
        // what the set-up appended, as an operator's would after a start.
        for _ in 0..<300 {
            let behind = try await environment.scalar("SELECT max(events_behind)::text FROM reporting.projection_status")
            if behind == "0" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        return (server, String(line.split(separator: " ")[3]))
    }

    func stop() async throws {
        server.signal(SIGTERM)
        _ = try await server.waitForExit(seconds: 30)
        environment.remove()
    }

    struct Reply {
        let status: Int
        let body: String
        let headers: String

        /// The body as a JSON object (empty when it is not one).
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
    }

    /// `curl` against the server, trusting its certificate (the pinned file, not `-k`).
    func curl(
        _ method: String, _ path: String, token: String? = nil, headers: [String] = [], body: String? = nil,
        contentType: String = "application/json", timeLimit: TimeInterval = 60, endsAtTimeLimit: Bool = false
    ) async throws -> Reply {
        let headerFile = environment.folder.appendingPathComponent("headers-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: headerFile) }
        var arguments = [
            "-sS", "-N", "--max-time", "\(Int(timeLimit))", "--cacert", certificate, "-X", method, "-D", headerFile, "-w", "\n%{http_code}",
        ]
        if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
        for header in headers { arguments += ["-H", header] }
        let bodyFile = environment.folder.appendingPathComponent("body-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: bodyFile) }
        if let body {
            try Data(body.utf8).write(to: bodyFile)
            arguments += ["--data-binary", "@\(bodyFile.path)", "-H", "Content-Type: \(contentType)"]
        }
        arguments.append(url + path)
        let command = arguments
        let run = try await offThePool { try Program.run("/usr/bin/curl", command, timeLimit: timeLimit + 10) }
        // 28: curl's own time limit, the way a test stops following a feed that never ends.
        guard run.status == 0 || (endsAtTimeLimit && run.status == 28) else {
            throw TestSetupError("curl \(arguments.joined(separator: " ")) failed:\n\(run.output)")
        }
        var lines = run.output.split(separator: "\n", omittingEmptySubsequences: false)
        let status = Int(lines.removeLast()) ?? 0
        let headers = (try? String(contentsOfFile: headerFile, encoding: .utf8)) ?? ""
        return Reply(status: status, body: lines.joined(separator: "\n"), headers: headers)
    }
}

extension JobEnvironment {
    /// The first column of the first row as text (nil: no row or NULL).
    func scalar(_ sql: String) async throws -> String? {
        let result = try await database.administratorQuery(sql)
        return result.rowCount == 0 ? nil : try result.decodeIfPresent(0, 0, as: String.self)
    }

    /// A new token for `user`, as `token create` prints it.
    func token(for user: String, expires: String = "1d") throws -> String {
        let created = try tidemark(["token", "create", "--user", user, "--expires", expires])
        guard created.status == 0,
            let token = created.output.split(separator: "\n").first(where: { $0.hasPrefix("tm_") && $0.count == 55 })
        else { throw TestSetupError("token create failed:\n\(created.output)") }
        return String(token)
    }
}
