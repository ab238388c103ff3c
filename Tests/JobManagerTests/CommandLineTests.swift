import Foundation
import Testing

/// Bad input at the command line: each refused with a clear message, a non-zero exit, and
/// nothing appended to the log.
@Suite("Command line: bad input")
struct CommandLineTests {
    @Test(
        "refused commands say why and write nothing",
        arguments: [
            (["events", "append", "--stream", "job-nightly", "--type", "JobAdded", "--data", "{}"], "is a job's stream"),
            (
                ["events", "append", "--stream", "session-1", "--type", "SessionStarted", "--data", "{}"],
                "only the Job Manager writes sessions"
            ),
            (["job", "list", "--as-of", "yesterday-ish"], "is not a time"),
            (["job", "stop", "crash-test"], "has no session running"),
            (["job", "start", "no-such-job"], "no job is named 'no-such-job'"),
            (["session", "show", "zzzz"], "no session has an id starting with 'zzzz'"),
            (["session", "replay", "zzzz", "--speed", "0"], "--speed must be from 0.01"),
            (["repository", "add", "second", "--path", "relative/path"], "is not absolute"),
            (["repository", "add", "REPO", "--path", "/srv/x"], "already exists"),
            (
                ["job", "add", "bad", "--server", "lab", "--repository", "repo", "--object", "vm:a", "--schedule", "every 0 minutes"],
                "never comes"
            ),
            (["job", "update", "crash-test", "--retention", "2 restore points"], "below the minimum of 3"),
            (["job", "update", "crash-test", "--schedule", "after crash-test"], "would start after itself"),
            (["job", "update", "crash-test", "--expected-version", "7", "--description", "x"], "version 7 does not exist yet"),
            (
                ["server", "add", "vc", "--vcenter", "https://admin:hunter2@vc", "--user", "u", "--password-env", "HOME"],
                "carries a user, password"
            ),
            (["server", "add", "vc", "--vcenter", "https://vc", "--user", "u", "--password-env", "Hunter2Secret"], "is not set here"),
            (
                ["server", "add", "vc", "--vcenter", "https://vc", "--user", "u", "--password-file", "/etc/passwd"],
                "is not in the secrets folder"
            ),
            (["server", "add", "vc", "--vcenter", "https://vc", "--credential", "nope"], "no credential is named 'nope'"),
            (["throttle", "add", "t", "--rate", "100Mb/s"], "unambiguously"),
            (["proxy", "run", "any", "--reach-check-seconds", "0"], "--reach-check-seconds 0.0 is out of range: give 1 to 86400"),
            (["repository", "remove", "repo"], "still used by job 'crash-test'"),
            (["repository", "add", "second", "--path", "/etc/passwd"], "is a file, not a folder"),
            (["job", "update", "crash-test", "--expected-version", "0", "--description", "x"], "changed since version 0 (now 1)"),
        ] as [([String], String)])
    func refused(arguments: [String], reason: String) async throws {
        let environment = try await JobEnvironment.make(vms: 1, diskSize: 1 << 20)
        defer { environment.remove() }
        let before = try await environment.eventCount()
        let run = try environment.tidemark(arguments)
        #expect(run.status != 0, "\(arguments) succeeded: \(run.output)")
        #expect(run.output.contains(reason), "\(arguments): \(run.output)")
        #expect(!run.output.contains("hunter2"))
        #expect(try await environment.eventCount() == before)
    }

    @Test("a job file with an unknown key names its line, and appends nothing")
    func badJobFile() async throws {
        let environment = try await JobEnvironment.make(vms: 1, diskSize: 1 << 20)
        defer { environment.remove() }
        let file = environment.folder.appendingPathComponent("job.yaml")
        try "name: other\nserver: lab\nrepository: repo\nobjects: [vm:a]\nretentin: 7\n".write(to: file, atomically: true, encoding: .utf8)
        let before = try await environment.eventCount()
        let run = try environment.tidemark(["job", "apply", "-f", file.path])
        #expect(run.status != 0)
        #expect(run.output.contains("line 5: unknown key 'retentin' (did you mean 'retention'?)"), "\(run.output)")
        #expect(try await environment.eventCount() == before)
    }
}
