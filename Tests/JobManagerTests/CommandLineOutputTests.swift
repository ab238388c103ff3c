import Foundation
import TestSupport
import Testing

/// What commands print, through the real binary: one wording for a name that names nothing,
/// JSON from every `list` and `show`, and log lines only when asked for.
@Suite("Command line: names, JSON and log levels")
struct CommandLineOutputTests {
    @Test(
        "an unknown name is worded the same in every command, with the names there are",
        arguments: [
            (["job", "show", "nightly"], "no job is named 'nightly' (known: crash-test): see 'tidemark job list'"),
            (["job", "update", "nightly", "--description", "x"], "no job is named 'nightly' (known: crash-test): see 'tidemark job list'"),
            (["job", "remove", "nightly"], "no job is named 'nightly' (known: crash-test): see 'tidemark job list'"),
            (["job", "disable", "nightly"], "no job is named 'nightly' (known: crash-test): see 'tidemark job list'"),
            (["job", "start", "nightly"], "no job is named 'nightly' (known: crash-test): see 'tidemark job list'"),
            (["job", "stop", "nightly"], "no job is named 'nightly' (known: crash-test): see 'tidemark job list'"),
            (["job", "export", "nightly"], "no job is named 'nightly' (known: crash-test): see 'tidemark job list'"),
            (["job", "history", "nightly"], "no job is or was named 'nightly' (known: crash-test): see 'tidemark job list'"),
            (
                ["job", "show", "nightly", "--as-of", "2020-01-01"],
                "no job was named 'nightly' at 2020-01-01 (there are none): see 'tidemark job list'"
            ),
            (["session", "list", "--job", "nightly"], "no job is named 'nightly' (known: crash-test): see 'tidemark job list'"),
            (["server", "show", "vc9"], "no managed server is named 'vc9' (known: lab): see 'tidemark server list'"),
            (["repository", "show", "main"], "no repository is named 'main' (known: repo): see 'tidemark repository list'"),
            (
                ["job", "add", "x", "--server", "lab", "--repository", "main", "--object", "vm:a"],
                "no repository is named 'main' (known: repo)"
            ),
            (["proxy", "remove", "proxy-9"], "no proxy is named 'proxy-9' (known: proxy-1, proxy-2): see 'tidemark proxy list'"),
            (
                ["throttle", "add", "wan", "--rate", "100MB/s", "--from-proxy", "proxy-9"],
                "no proxy is named 'proxy-9' (known: proxy-1, proxy-2)"
            ),
            (["throttle", "show", "wan"], "no throttling rule is named 'wan' (there are none): see 'tidemark throttle list'"),
            (["session", "show", "zzzz"], "no session has an id starting with 'zzzz' (there are none): see 'tidemark session list'"),
            (
                ["projections", "rebuild", "catalgo"],
                "no projection is named 'catalgo' (known: catalog, health, publishes, restores, sessions, statistics): see 'tidemark projections status'"
            ),
        ] as [([String], String)])
    func unknownName(arguments: [String], message: String) async throws {
        let environment = try await JobEnvironment.make(vms: 1, diskSize: 1 << 20)
        defer { environment.remove() }
        let before = try await environment.eventCount()
        let run = try environment.tidemark(arguments)
        #expect(run.status == 1, "\(run.output)")
        #expect(run.output.contains("Error: " + message), "\(run.output)")
        #expect(try await environment.eventCount() == before)
    }

    @Test("a VM the lab does not have is named in the same words")
    func unknownLabVM() throws {
        let scratch = ProcessInfo.processInfo.environment["TIDEMARK_TEST_SCRATCH"] ?? NSTemporaryDirectory()
        let lab = URL(fileURLWithPath: scratch).appendingPathComponent("lab-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: lab) }
        let created = try TidemarkProcess.run(
            ["lab", "create", lab.path, "--vms", "2", "--disk-size", "64K"], in: URL(fileURLWithPath: scratch))
        #expect(created.status == 0, "\(created.output)")
        let run = try TidemarkProcess.run(["lab", "inject", lab.path, "--vm", "lab-vm-9", "--clear"], in: URL(fileURLWithPath: scratch))
        #expect(run.status == 1)
        #expect(
            run.output.contains(
                "Error: no VM has the name or id 'lab-vm-9' (known: lab-vm-01, lab-vm-02): see 'tidemark lab show \(lab.path)'"),
            "\(run.output)")
    }

    @Test("every list and show prints JSON with --json")
    func json() async throws {
        let environment = try await JobEnvironment.make(vms: 2, diskSize: 1 << 20)
        defer { environment.remove() }
        try await environment.runJob()
        func parsed(_ arguments: [String], database: Bool = true) throws -> Any {
            let run = database ? try environment.tidemark(arguments) : try TidemarkProcess.run(arguments, in: environment.folder)
            #expect(run.status == 0, "\(arguments): \(run.output)")
            return try JSONSerialization.jsonObject(with: Data(run.output.utf8))
        }
        func names(_ value: Any) -> [String] { (value as? [[String: Any]] ?? []).compactMap { $0["name"] as? String } }
        #expect(names(try parsed(["job", "list", "--json"])) == ["crash-test"])
        #expect(names(try parsed(["server", "list", "--json"])) == ["lab"])
        #expect(names(try parsed(["repository", "list", "--json"])) == ["repo"])
        #expect(names(try parsed(["proxy", "list", "--json"])) == ["proxy-1", "proxy-2"])
        #expect((try parsed(["throttle", "list", "--json"]) as? [Any])?.isEmpty == true)
        for (kind, name) in [("job", "crash-test"), ("server", "lab"), ("repository", "repo"), ("proxy", "proxy-2")] {
            let object = try parsed([kind, "show", name, "--json"]) as? [String: Any]
            #expect(object?["name"] as? String == name && object?["kind"] as? String == kind)
        }
        let sessions = try #require(try parsed(["session", "list", "--json"]) as? [[String: Any]])
        #expect(sessions.count == 1)
        #expect(sessions.first?["result"] as? String == "success" && sessions.first?["job_name"] as? String == "crash-test")
        let id = try #require(sessions.first?["session_id"] as? String)
        // The replay tells the session from its events, decoded with the contract's types.
        let replay = try environment.tidemark(["session", "replay", String(id.prefix(8))])
        #expect(replay.status == 0, "\(replay.output)")
        for line in [
            "session of job crash-test (version 1, manual)", "objects: ", "repository ", "proxy proxy-", "transfer done at ",
            "] success", "session success: bottleneck ",
        ] {
            #expect(replay.output.contains(line), "the replay lacks '\(line)':\n\(replay.output)")
        }
        let end = try environment.tidemark(["session", "replay", String(id.prefix(8)), "--at", "100000"])
        #expect(end.output.contains("session success,") && end.output.contains(": success"), "\(end.output)")
        #expect((try parsed(["session", "list", "--job", "crash-test", "--json"]) as? [Any])?.count == 1)
        let shown = try #require(try parsed(["session", "show", String(id.prefix(8)), "--json"]) as? [String: Any])
        #expect((shown["session"] as? [String: Any])?["session_id"] as? String == id)
        #expect((shown["tasks"] as? [[String: Any]])?.map { $0["result"] as? String } == ["success", "success"])
        let projections = try #require(try parsed(["projections", "status", "--json"]) as? [[String: Any]])
        #expect(
            Set(projections.compactMap { $0["name"] as? String }) == [
                "catalog", "sessions", "statistics", "health", "restores", "publishes",
            ])
        #expect((try parsed(["job", "history", "crash-test", "--json"]) as? [Any])?.count == 1)
        let lab = try #require(try parsed(["lab", "show", environment.labPath, "--json"], database: false) as? [String: Any])
        let vms = try #require(lab["vms"] as? [[String: Any]])
        #expect(vms.compactMap { $0["name"] as? String } == ["lab-vm-01", "lab-vm-02"])
        #expect((vms.first?["disks"] as? [[String: Any]])?.first?["capacity_bytes"] as? Int == 1 << 20)
    }

    @Test("an empty list says so in words, a plural spelled right")
    func emptyList() async throws {
        let environment = try await JobEnvironment.make(vms: 1, diskSize: 1 << 20)
        defer { environment.remove() }
        let run = try environment.tidemark(["throttle", "list"])
        #expect(run.output.contains("no throttling rules; add one with 'tidemark throttle add'"), "\(run.output)")
    }

    @Test("log lines only when asked for: warnings and errors by default, info with -v")
    func logLevels() async throws {
        // A fresh database: `db migrate` applies every migration, and the migrator logs each at info.
        let database = try await TestDatabase.create(migrated: false)
        let folder = URL(fileURLWithPath: NSTemporaryDirectory())
        let url = database.administrator.keywordConnectionString
        let quiet = try TidemarkProcess.run(["db", "migrate", "--database-url", url], in: folder)
        #expect(quiet.status == 0, "\(quiet.output)")
        #expect(quiet.output.contains("applied 0001_roles.sql"), "\(quiet.output)")
        #expect(!quiet.output.contains(" info "), "\(quiet.output)")

        let environment = try await JobEnvironment.make(vms: 1, diskSize: 1 << 20)
        defer { environment.remove() }
        let plain = try environment.tidemark(["job", "start", environment.jobName])
        #expect(plain.status == 0, "\(plain.output)")
        #expect(!plain.output.contains(" notice ") && !plain.output.contains(" info "), "\(plain.output)")
        let verbose = try environment.tidemark(["job", "start", environment.jobName, "-v"])
        #expect(verbose.status == 0, "\(verbose.output)")
        #expect(verbose.output.contains(" notice ") && verbose.output.contains("session finished"), "\(verbose.output)")
    }

    @Test("tidemark server prints that it runs and stops; its log lines need -v")
    func serverLogLevels() async throws {
        let environment = try await JobEnvironment.make(vms: 1, diskSize: 1 << 20)
        defer { environment.remove() }
        let plain = try await Self.runServer(environment, ["server", "--listen", "none"])
        #expect(plain.contains("tidemark server running") && plain.contains("tidemark server stopped"), "\(plain)")
        #expect(!plain.contains(" notice ") && !plain.contains(" info "), "\(plain)")
        let verbose = try await Self.runServer(environment, ["server", "-v", "--listen", "none"])
        #expect(verbose.contains("this server now schedules the jobs"), "\(verbose)")
    }

    /// Runs `tidemark server` for three seconds, stops it with SIGTERM, and returns what it printed.
    static func runServer(_ environment: JobEnvironment, _ arguments: [String]) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TidemarkProcess.binary)
        process.arguments = arguments + ["--database-url", environment.databaseURL]
        process.currentDirectoryURL = environment.folder
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        try await Task.sleep(for: .seconds(3))
        process.terminate()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return text
    }
}
