import Foundation

/// `tidemark server` as a child process on a free loopback port, for `bench api`: its URL,
/// its certificate, and its resident memory read from `/proc`.
final class BenchAPIServer: @unchecked Sendable {
    let process: Process
    let url: String
    let certificate: String

    private init(process: Process, url: String, certificate: String) {
        self.process = process
        self.url = url
        self.certificate = certificate
    }

    static func start(database: String, folder: URL) async throws -> BenchAPIServer {
        let output = folder.appendingPathComponent("server.log")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let log = try FileHandle(forWritingTo: output)
        let process = Process()
        process.executableURL = RunningProgram.url
        process.arguments = [
            "server", "run", "--listen", "127.0.0.1:0", "--data-dir", folder.appendingPathComponent("data").path, "--database-url",
            database,
        ]
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(60)
        while clock.now < deadline {
            let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.contains("API listening on ") }),
                let url = line.split(separator: " ").first(where: { $0.hasPrefix("https://") })
            {
                return BenchAPIServer(
                    process: process, url: String(url), certificate: folder.appendingPathComponent("data/tls/api.crt").path)
            }
            guard process.isRunning else { throw BenchAPIError("tidemark server ended before it listened:\n\(text.suffix(2_000))") }
            try await Task.sleep(for: .milliseconds(100))
        }
        process.terminate()
        throw BenchAPIError("tidemark server did not listen within a minute (its output is in \(output.path))")
    }

    /// `VmRSS` of the server process, in MiB.
    func residentMebibytes() throws -> Double {
        let status = try String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kibibytes = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { throw BenchAPIError("no VmRSS in /proc/\(process.processIdentifier)/status") }
        return kibibytes / 1_024
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }
}

/// psql itself, for the reference: a statement prepared once and executed `runs` times with
/// `\timing`, each `Time:` line one sample.
struct BenchPSQL {
    let connection: String
    let folder: URL

    init(connection: String, folder: URL) throws {
        self.connection = connection
        self.folder = folder
    }

    static var program: String {
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []).compactMap(Int.init).sorted(
            by: >)
        return versions.map { "/usr/lib/postgresql/\($0)/bin/psql" }.first(where: FileManager.default.isExecutableFile) ?? "psql"
    }

    func time(_ sql: String, types: String, arguments: String, runs: Int) throws -> LatencySamples {
        let script = folder.appendingPathComponent("reference-\(UUID().uuidString.prefix(8)).sql")
        var text = "PREPARE reference(\(types)) AS \(sql);\n\\timing on\n"
        for _ in 0..<runs { text += "EXECUTE reference(\(arguments));\n" }
        try text.write(to: script, atomically: true, encoding: .utf8)
        let output = folder.appendingPathComponent("reference.out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.program)
        process.arguments = ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-o", "/dev/null", "-f", script.path, connection]
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = process.standardOutput
        try process.run()
        process.waitUntilExit()
        let result = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else { throw BenchAPIError("psql failed:\n\(result.suffix(2_000))") }
        var samples = LatencySamples()
        for line in result.split(separator: "\n") where line.hasPrefix("Time: ") {
            if let milliseconds = Double(line.dropFirst(6).split(separator: " ")[0]) { samples.record(.milliseconds(milliseconds)) }
        }
        guard samples.milliseconds.count == runs else {
            throw BenchAPIError("psql printed \(samples.milliseconds.count) timings, not \(runs)")
        }
        return samples
    }
}

struct BenchAPIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
