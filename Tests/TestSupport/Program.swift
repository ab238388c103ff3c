import Foundation

/// A program run as a child process and waited for: its exit status and everything it printed.
///
/// What it prints goes to a temporary file, not a pipe: the run ends when the child exits, even
/// when something it started (a server left running) still holds its output open. A child past
/// its time limit is killed and reported as an error with what it printed, so a hung child fails
/// its test instead of the whole run.
public enum Program {
    public struct Result: Sendable {
        public let status: Int32
        /// It died by a signal (`status` is then the signal's number).
        public let killed: Bool
        /// Standard output and standard error together, in the order written.
        public let output: String
    }

    public static func run(
        _ program: String, _ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:],
        input: String? = nil, timeLimit: TimeInterval = 300
    ) throws -> Result {
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("program-\(UUID().uuidString).out")
        guard FileManager.default.createFile(atPath: outputPath.path, contents: nil) else {
            throw TestSetupError("could not create \(outputPath.path) for \(program)'s output")
        }
        defer { try? FileManager.default.removeItem(at: outputPath) }
        let output = try FileHandle(forWritingTo: outputPath)
        defer { try? output.close() }

        let started = Date()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        process.standardOutput = output
        process.standardError = output
        let stdin = Pipe()
        process.standardInput = stdin
        try process.run()
        let overdue = DispatchWorkItem { [process] in
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeLimit, execute: overdue)
        defer { overdue.cancel() }
        // A child that exits without reading its input must not fail the write.
        signal(SIGPIPE, SIG_IGN)
        try? stdin.fileHandleForWriting.write(contentsOf: Data((input ?? "").utf8))
        try? stdin.fileHandleForWriting.close()
        process.waitUntilExit()
        let text = String(decoding: (try? Data(contentsOf: outputPath)) ?? Data(), as: UTF8.self)
        let killed = process.terminationReason == .uncaughtSignal
        if killed && process.terminationStatus == SIGKILL && Date() >= started.addingTimeInterval(timeLimit) {
            throw ProgramTimeout(program: program, arguments: arguments, seconds: timeLimit, output: text)
        }
        return Result(status: process.terminationStatus, killed: killed, output: text)
    }
}

/// A child that ran past its time limit and was killed.
public struct ProgramTimeout: Error, CustomStringConvertible {
    public let program: String
    public let arguments: [String]
    public let seconds: TimeInterval
    public let output: String
    public var description: String {
        "\(program) \(arguments.joined(separator: " ")) ran past \(Int(seconds)) s and was killed; it printed:\n\(output)"
    }
}
