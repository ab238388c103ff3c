import Foundation
import TestSupport
import Testing

/// Schemathesis (PyPI) against the live server: requests generated from the OpenAPI document,
/// valid and invalid, and every response checked against it: no 5xx, status codes, content
/// types, headers and bodies as documented.
@Suite(
    "API: the live server against its OpenAPI document (schemathesis)", .timeLimit(.minutes(10)),
    .enabled(if: (try? Program.run("/usr/bin/env", ["python3", "-c", "import schemathesis"]).status) == 0))
struct APIContractTests {
    @Test("no server error and every response as the document says, for each role's token")
    func schemathesis() async throws {
        // Schemathesis sends malformed tokens on purpose: the throttle would answer 429 to most.
        let api = try await APIServerHarness.start(refusedTokensPerMinute: 100_000)
        defer { Task { try? await api.stop() } }
        // One session so that session routes have something to show.
        _ = try await api.curl("POST", "/api/v1/jobs/\(api.environment.jobName)/start", token: api.tokens["operator"])
        for role in ["administrator", "viewer"] {
            let token = try #require(api.tokens[role])
            let run = try await offThePool {
                try Program.run(
                    "/usr/bin/env",
                    [
                        "python3", "-m", "schemathesis.cli", "run", "\(api.url)/api/v1/openapi.json", "--url", api.url,
                        "--tls-verify", api.certificate, "-H", "Authorization: Bearer \(token)",
                        "--checks",
                        "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance",
                        "--phases", "examples,coverage,fuzzing,stateful", "--max-examples", "25", "--seed", "17", "--generation-database",
                        "none",
                        // One worker: hypothesis parses lambdas' source with `ast` on each
                        // worker thread, and CPython 3.11.7's parser is not thread-safe ("AST
                        // constructor recursion depth mismatch" ends the coverage phase).
                        "--no-color", "--workers", "1", "--request-timeout", "20",
                        // Signing out revokes the run's own token: every later call would be 401.
                        "--exclude-operation-id", "signOut",
                    ], in: api.environment.folder, environment: ["SCHEMATHESIS_HOOKS": ""], timeLimit: 400)
            }
            #expect(run.status == 0, "schemathesis as \(role):\n\(run.output.suffix(6_000))")
        }
    }
}
