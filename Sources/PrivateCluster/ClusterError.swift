/// Why the private PostgreSQL cluster could not be found, created, started or stopped.
public struct ClusterError: Error, Sendable, CustomStringConvertible {
    public let message: String
    /// The output of the PostgreSQL tool that failed, if any (its last lines).
    public let toolOutput: String?

    init(_ message: String, toolOutput: String? = nil) {
        self.message = message
        self.toolOutput = toolOutput
    }

    public var description: String {
        guard let toolOutput, !toolOutput.isEmpty else { return message }
        return message + "\n" + toolOutput
    }
}
