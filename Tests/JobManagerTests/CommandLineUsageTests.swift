import Foundation
import TestSupport
import Testing

/// The command line's shape, through the real binary: its version, usage errors (the usage
/// and status 64) apart from errors met while running (`Error: ...` and status 1), misspelled
/// subcommands, and the words of its help.
@Suite("Command line: version, usage and typos")
struct CommandLineUsageTests {
    /// Runs `tidemark` with no database: these commands fail or finish before needing one.
    static func run(_ arguments: [String]) throws -> (status: Int32, killed: Bool, output: String) {
        try TidemarkProcess.run(arguments, in: URL(fileURLWithPath: NSTemporaryDirectory()))
    }

    @Test("--version prints the version and exits 0")
    func version() throws {
        let run = try Self.run(["--version"])
        #expect(run.status == 0)
        #expect(run.output.wholeMatch(of: /tidemark \d+\.\d+\.\d+\S*\n/) != nil, "\(run.output)")
    }

    @Test(
        "a misspelled subcommand is named with the nearest one, at every level",
        arguments: [
            (["job", "strat", "nightly", "--data-dir", "/nonexistent"], "unknown command 'strat', did you mean 'start'?", "tidemark job"),
            (["jbo", "list"], "unknown command 'jbo', did you mean 'job'?", "tidemark"),
            (["projections", "staus", "--json"], "unknown command 'staus', did you mean 'status'?", "tidemark projections"),
            (["db", "strat"], "unknown command 'strat', did you mean 'start'?", "tidemark db"),
            (["bench", "apend", "--seconds", "1"], "unknown command 'apend', did you mean 'append'?", "tidemark bench"),
            (["server", "lsit"], "unknown command 'lsit', did you mean 'list'?", "tidemark server"),
            (["sesion", "show", "3b50f8ef"], "unknown command 'sesion', did you mean 'session'?", "tidemark"),
            (
                ["job", "xyzzy"], "unknown command 'xyzzy' for 'tidemark job': use one of add, update, remove, list, show, enable",
                "tidemark job"
            ),
        ] as [([String], String, String)])
    func misspelled(arguments: [String], message: String, command: String) throws {
        let run = try Self.run(arguments)
        #expect(run.status == 64, "\(run.output)")
        #expect(run.output.contains("Error: " + message), "\(run.output)")
        #expect(run.output.contains("See '\(command) --help' for more information."), "\(run.output)")
        #expect(!run.output.contains("Unknown option"), "\(run.output)")
    }

    @Test("a word a command with a default subcommand does not know is left to the parser")
    func defaultSubcommand() throws {
        let run = try Self.run(["server", "everything"])
        #expect(run.status == 64)
        #expect(run.output.contains("Unexpected argument 'everything'"), "\(run.output)")
    }

    @Test(
        "usage errors print the message and the usage, and exit 64",
        arguments: [
            (["job", "list", "--as-of", "yesterday-ish"], "'yesterday-ish' is not a time", "tidemark job list"),
            (["job", "export", "--as-of", "soon"], "'soon' is not a time", "tidemark job export"),
            (["job", "list", "--log-level", "loud"], "'loud' is not a level", "tidemark job list"),
            (["lab", "create", "/nonexistent/lab", "--disk-size", "3Q"], "'3Q' is not a size", "tidemark lab create"),
            (["repository", "add", "main"], "a repository needs --path", "tidemark repository add"),
            (["events", "append", "--stream", "job-1", "--type", "T", "--data", "{}"], "is a job's stream", "tidemark events append"),
            (
                ["events", "append", "--stream", "note-1", "--type", "T", "--data", "{}", "--id", "x"], "--id 'x' is not a UUID",
                "tidemark events append"
            ),
            (["job", "show"], "Missing expected argument '<name>'", "tidemark job show"),
            (["job", "list", "--colour"], "Unknown option '--colour'", "tidemark job list"),
        ] as [([String], String, String)])
    func usage(arguments: [String], message: String, command: String) throws {
        let run = try Self.run(arguments)
        #expect(run.status == 64, "\(run.output)")
        #expect(run.output.contains("Error: "), "\(run.output)")
        #expect(run.output.contains(message), "\(run.output)")
        #expect(run.output.contains("Usage: \(command)"), "\(run.output)")
    }

    @Test(
        "errors met while running say 'Error: ...' without the usage, and exit 1",
        arguments: [
            (["job", "start", "no-such-job"], "Error: no job is named 'no-such-job' (known: crash-test): see 'tidemark job list'"),
            (["job", "export", "no-such-job"], "Error: no job is named 'no-such-job'"),
            (["job", "apply", "-f", "/nonexistent/jobs.yaml"], "Error: cannot read '/nonexistent/jobs.yaml'"),
            (
                ["job", "update", "crash-test", "--schedule", "dialy at 22:00"],
                "Error: unknown schedule 'dialy at 22:00': did you mean 'daily at 22:00'?"
            ),
            (["job", "stop", "crash-test"], "Error: job 'crash-test' has no session running"),
        ] as [([String], String)])
    func runtime(arguments: [String], message: String) async throws {
        let environment = try await JobEnvironment.make(vms: 1, diskSize: 1 << 20)
        defer { environment.remove() }
        let run = try environment.tidemark(arguments)
        #expect(run.status == 1, "\(run.output)")
        #expect(run.output.contains(message), "\(run.output)")
        #expect(!run.output.contains("Usage:"), "\(run.output)")
    }

    @Test("a runtime error without a database is the same: a lab that is not there")
    func runtimeWithoutDatabase() throws {
        let run = try Self.run(["lab", "show", "/nonexistent/lab"])
        #expect(run.status == 1)
        #expect(run.output.hasPrefix("Error: "), "\(run.output)")
        #expect(!run.output.contains("Usage:"))
    }

    @Test("help names several repositories, proxies and throttling rules in plain English")
    func plurals() throws {
        let expected = [
            "server": "List the managed servers", "repository": "List the repositories", "proxy": "List the proxies",
            "throttle": "List the throttling rules", "job": "List the jobs",
        ]
        for (command, line) in expected {
            let run = try Self.run([command, "--help"])
            #expect(run.status == 0)
            #expect(run.output.contains(line), "\(command): \(run.output)")
            #expect(!run.output.contains("repositorys") && !run.output.contains("proxys"), "\(command): \(run.output)")
        }
    }
}
