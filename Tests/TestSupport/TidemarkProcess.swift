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
    /// signal) and everything it printed.
    public static func run(_ arguments: [String], in directory: URL, environment: [String: String] = [:], input: String? = nil) throws
        -> (status: Int32, killed: Bool, output: String)
    {
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
        stdin.fileHandleForWriting.write(Data((input ?? "").utf8))
        try stdin.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, process.terminationReason == .uncaughtSignal, text)
    }
}
