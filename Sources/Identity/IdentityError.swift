import CodedErrors

/// Why an identity command (a user, a role, a token) was refused, with what to do instead.
public struct IdentityError: CodedError {
    public enum Code: String, Sendable {
        /// A name, role, expiry or token that does not read.
        case invalid
        /// The user or token named does not exist.
        case notFound
        /// A second user of that name.
        case duplicate
        /// It would leave no administrator who can sign in.
        case lastAdministrator
        /// A one-time code (a TOTP step) a sign-in used already.
        case reused
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var codeName: String { code.rawValue }
}
