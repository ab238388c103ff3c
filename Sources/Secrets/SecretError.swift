import CodedErrors

/// Why a secret could not be stored or read, with what to do about it. Never carries the
/// secret itself.
public struct SecretError: CodedError, Equatable {
    public enum Code: String, Sendable {
        case invalidName = "invalid name"
        case notFound = "not found"
        case unsafeFile = "unsafe file"
        case outsideFolder = "outside the secrets folder"
        case damaged = "damaged"
        case io = "input/output error"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var codeName: String { code.rawValue }
}
