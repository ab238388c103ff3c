import Foundation

/// A `tidemark` child left running (a proxy process, a server) while the test works beside
/// it: its output goes to a log file, it can be signalled, and it is killed when the test
/// forgets it (`deinit`), so no child outlives its test.
public final class RunningTidemark: @unchecked Sendable {
    public let process: Process
    public let log: URL
    public let arguments: [String]

    /// Starts `tidemark arguments` in `directory`; `wrapper` runs it under another program
    /// (`["unshare", "-m", ...]`, `["ip", "netns", "exec", "ns1"]`), given before the binary.
    public init(_ arguments: [String], in directory: URL, environment: [String: String] = [:], wrapper: [String] = []) throws {
        self.arguments = arguments
        log = directory.appendingPathComponent("tidemark-\(UUID().uuidString.prefix(8)).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process = Process()
        if let program = wrapper.first {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = Array(wrapper.dropFirst()) + [TidemarkProcess.binary] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: TidemarkProcess.binary)
            process.arguments = arguments
        }
        process.currentDirectoryURL = directory
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// What it printed so far.
    public var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    public func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits until it printed `text` (true), or it exited or `seconds` passed (false). The
    /// default is long: it ends as soon as the text comes, and a program starting on a machine
    /// that runs the whole test suite at once can take half a minute to say it is ready.
    public func waitFor(_ text: String, seconds: Double = 120) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if output.contains(text) { return true }
            if !process.isRunning { return output.contains(text) }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// Waits for it to exit (killing it past `seconds`); its exit status.
    @discardableResult
    public func waitForExit(seconds: Double = 30) async throws -> Int32 {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        return process.terminationStatus
    }
}
