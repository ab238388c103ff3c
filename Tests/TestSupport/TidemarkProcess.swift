import Foundation

/// The built `tidemark` binary run as a child process, the way an administrator runs it.
public enum TidemarkProcess {
    /// `.build/debug/tidemark` (Tools/test builds it with the tests).
    public static var binary: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/tidemark").path
    }

    /// Runs it with `arguments` in `directory`, the environment of this process plus `environment`,
    /// `input` on its standard input (none: an empty one); its exit status (or death by a
    /// signal) and everything it printed. A run past `timeLimit` is killed and reported as an
    /// error with what it printed, so a hung child fails its test instead of the whole run.
    public static func run(
        _ arguments: [String], in directory: URL, environment: [String: String] = [:], input: String? = nil,
        timeLimit: TimeInterval = 300
    ) throws -> (status: Int32, killed: Bool, output: String) {
        let started = Date()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        let stdin = Pipe()
        process.standardInput = stdin
        try process.run()
        let overdue = DispatchWorkItem { [process] in
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeLimit, execute: overdue)
        stdin.fileHandleForWriting.write(Data((input ?? "").utf8))
        try stdin.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let timedOut =
            process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL
            && Date() >= started.addingTimeInterval(timeLimit)
        overdue.cancel()
        if timedOut {
            throw TidemarkProcessTimeout(arguments: arguments, seconds: timeLimit, output: text)
        }
        return (process.terminationStatus, process.terminationReason == .uncaughtSignal, text)
    }
}

/// A `tidemark` child that ran past its time limit and was killed.
public struct TidemarkProcessTimeout: Error, CustomStringConvertible {
    public let arguments: [String]
    public let seconds: TimeInterval
    public let output: String
    public var description: String {
        "tidemark \(arguments.joined(separator: " ")) ran past \(Int(seconds)) s and was killed; it printed:\n\(output)"
    }
}
