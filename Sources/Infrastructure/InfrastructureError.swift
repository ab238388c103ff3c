import CodedErrors

/// A virtualization manager's refusal or failure, mapped to what a Job Manager decides on.
public struct InfrastructureError: CodedError, Equatable {
    public enum Code: String, Sendable {
        case invalidInput = "invalid input"
        case unknownObject = "unknown object"
        case snapshotFailed = "snapshot failed"
        case quiesceFailed = "quiesce failed"
        case diskUnreadable = "disk unreadable"
        case io = "input/output error"
        /// The manager cannot be reached: refused, timed out, no TLS on that port.
        case unreachable = "unreachable"
        /// Wrong user name or password, or a session the manager no longer accepts.
        case authenticationFailed = "authentication failed"
        /// A certificate no CA vouches for, or one that differs from the pinned thumbprint.
        case untrustedCertificate = "untrusted certificate"
    }

    public let code: Code
    public let message: String
    /// The manager's own name for the fault, when it gave one (vSphere's fault type): for
    /// decisions such as a quiesce failure's, not printed (the message says what failed).
    public let fault: String?

    public init(_ code: Code, _ message: String, fault: String? = nil) {
        self.code = code
        self.message = message
        self.fault = fault
    }

    public var codeName: String { code.rawValue }
}
