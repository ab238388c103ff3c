import CodedErrors

/// Why a session could not run or go on, with what to do about it.
public struct JobManagerError: CodedError {
    public enum Code: String, Sendable {
        /// The job, its server or its repository cannot be used as defined.
        case invalidJob = "invalid job"
        /// Another process owns the session (it is running there).
        case sessionBusy = "session busy"
        /// The session does not exist or already ended.
        case noSuchSession = "no such session"
        /// The repository is offline or below its free-space threshold.
        case repositoryUnavailable = "repository unavailable"
        /// A passing error whose text carried a secret, passed up with the secret taken out.
        case interrupted = "interrupted"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var codeName: String { code.rawValue }
}
