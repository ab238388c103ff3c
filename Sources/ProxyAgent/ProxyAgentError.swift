import CodedErrors

/// Why a proxy process cannot run, or stopped a task, with what to do.
public struct ProxyAgentError: CodedError {
    public enum Code: String, Sendable {
        /// The catalog has no proxy of that name.
        case unknownProxy = "unknown proxy"
        /// This host's identity key is not the one enrolled for the proxy.
        case notEnrolled = "not enrolled"
        /// Another process of the same proxy heartbeats.
        case alreadyRunning = "already running"
        /// This process's lease ran out (it could not heartbeat in time): its tasks are stopped.
        case leaseLost = "lease lost"
        /// A task's report was refused: the task moved to another holder.
        case taskMoved = "task moved"
        case invalidTask = "invalid task"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var codeName: String { code.rawValue }
}
