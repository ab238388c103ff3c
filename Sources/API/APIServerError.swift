import CodedErrors

/// Why the API server could not start: an address, a missing resource, with what to do.
public struct APIServerError: CodedError {
    public let message: String
    public var codeName: String { "api server" }
    public init(_ message: String) { self.message = message }
}
