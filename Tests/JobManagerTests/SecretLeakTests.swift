import Catalog
import EventStore
import Foundation
import Secrets
import TestSupport
import Testing
import WorkflowEvents

@testable import JobManager
@testable import Server

/// Issue 12, finding 5: text a vCenter sends back must not carry the password into the log,
/// failed logins must not be retried every second, and a URL's secrets never reach a message.
@Suite("Secrets never leak through what servers say, retries or URLs")
struct SecretLeakTests {
    @Test("every form of the password is scrubbed: as typed, JSON-escaped, percent-encoded, XML-escaped")
    func scrubberForms() {
        let scrubber = SecretScrubber(["p\"w&<x>%ä"])
        for text in [
            "InvalidLogin: password p\"w&<x>%ä refused", #"{"message":"fault: p\"w&<x>%ä"}"#, "pw=p%22w%26%3Cx%3E%25%C3%A4",
            "<password>p&quot;w&amp;&lt;x&gt;%ä</password>",
        ] {
            #expect(scrubber.reveals(text), "\(text)")
            #expect(!scrubber.reveals(scrubber.scrub(text)), "\(scrubber.scrub(text))")
            #expect(scrubber.scrub(text).contains("***"))
        }
        #expect(SecretScrubber([""]).scrub("nothing to hide") == "nothing to hide")
    }

    @Test("a fault that echoes the password reaches the session's events without it")
    func recorderScrubs() async throws {
        let database = try await TestDatabase.create()
        let store = database.eventStore()
        let session = UUID().uuidString.lowercased()
        let recorder = try SessionRecorder(store: store, session: session, state: SessionState())
        try await recorder.record(
            .sessionStarted, SessionEvent.Started(sessionId: session, jobId: nil, jobName: "j", jobVersion: 1, trigger: "manual"))
        await recorder.redact("Hunter2-Secret")
        try await recorder.record(
            .taskFinished,
            SessionEvent.TaskFinished(
                taskId: "vm-1/2000", result: "failed",
                message: "SystemError: Cannot complete login due to an incorrect user name or password 'Hunter2-Secret'"))
        let stored = try await database.administratorQuery("SELECT string_agg(data::text, ' ') FROM tidemark.events")
        let text: String = try stored.decode(0, 0)
        #expect(!text.contains("Hunter2"))
        #expect(text.contains("password '***'"))
    }

    @Test("a session that keeps failing to run waits longer each time and is given up after a bound")
    func backoffAndGiveUp() async throws {
        let running = RunningSessions()
        let start = ContinuousClock.now
        #expect(running.claim("s", limit: 4, now: start))
        running.release("s")
        #expect(running.failed("s", now: start, base: .seconds(5), cap: .seconds(600)) == 1)
        #expect(!running.claim("s", limit: 4, now: start + .seconds(4)))
        #expect(running.claim("s", limit: 4, now: start + .seconds(5)))
        running.release("s")
        #expect(running.failed("s", now: start + .seconds(5), base: .seconds(5), cap: .seconds(600)) == 2)
        #expect(!running.claim("s", limit: 4, now: start + .seconds(14)))
        #expect(running.claim("s", limit: 4, now: start + .seconds(15)))
        running.release("s")
        for _ in 0..<20 { _ = running.failed("s", now: start, base: .seconds(5), cap: .seconds(600)) }
        #expect(!running.claim("s", limit: 4, now: start + .seconds(599)))
        #expect(running.claim("s", limit: 4, now: start + .seconds(600)))

        // Given up: the session ends failed with the last reason, no longer work for anyone.
        let environment = try await JobEnvironment.make(vms: 1, diskSize: 1 << 20)
        defer { environment.remove() }
        let manager = JobManager(store: environment.database.eventStore())
        let session = try await manager.begin(job: environment.jobName, trigger: "manual")
        let report = try #require(
            try await manager.giveUp(session: session, reason: "gave up after 8 attempts that failed to run it; the last: SystemError"))
        #expect(report.finished.result == "failed")
        #expect(report.finished.reason?.hasPrefix("gave up after 8 attempts") == true)
        #expect(try await manager.unfinishedSessions().isEmpty)
    }

    @Test(
        "URLs: user-info up to the last @, path parameters and queries are refused and never echoed",
        arguments: [
            "https://admin:PW@case2@vc.example.com", "https://vc.example.com/?password=PW-case2",
            "https://vc.example.com/sdk;password=PW-case2",
            "https://vc.example.com/ui#PW-case2", "https://vc.example.com/some/path",
        ])
    func urlSecretsRefused(url: String) {
        let server = ManagedServer(
            name: "vc", platform: .vcenter, url: url, user: "u", passwordReference: try? SecretReference(parsing: "env:HOME"))
        let error = #expect(throws: CatalogError.self) { try server.validate(in: CatalogState()) }
        #expect(error.map { !"\($0)".contains("PW") && !"\($0)".contains("case2") } == true, "\(String(describing: error))")
    }
}
