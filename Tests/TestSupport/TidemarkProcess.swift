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
    /// signal) and everything it printed. A run past `timeLimit` is killed and reported as a
    /// ``ProgramTimeout`` with what it printed.
    public static func run(
        _ arguments: [String], in directory: URL, environment: [String: String] = [:], input: String? = nil,
        timeLimit: TimeInterval = 300
    ) throws -> (status: Int32, killed: Bool, output: String) {
        let result = try Program.run(
            binary, arguments, in: directory, environment: environment, input: input, timeLimit: timeLimit)
        return (result.status, result.killed, result.output)
    }
}
