import CodedErrors

/// Why the private PostgreSQL cluster could not be found, created, started or stopped.
public struct ClusterError: CodedError {
    public enum Code: String, Sendable {
        /// The PostgreSQL server programs, or the account they run as, are not on this machine.
        case notInstalled = "postgresql not installed"
        /// The data folder cannot hold a cluster: too deep, unwritable, closed to the server account.
        case unusableFolder = "unusable data folder"
        /// A PostgreSQL tool (initdb, pg_ctl) could not run or failed.
        case toolFailed = "tool failed"
    }

    public let code: Code
    /// What failed, followed by the failing tool's last lines of output when there are some:
    /// without them nobody can tell why initdb or the server refused.
    public let message: String
    /// The output of the PostgreSQL tool that failed, if any (its last lines).
    public let toolOutput: String?

    init(_ code: Code, _ message: String, toolOutput: String? = nil) {
        self.code = code
        if let toolOutput, !toolOutput.isEmpty {
            self.message = message + "\n" + toolOutput
        } else {
            self.message = message
        }
        self.toolOutput = toolOutput
    }

    public var codeName: String { code.rawValue }
}
