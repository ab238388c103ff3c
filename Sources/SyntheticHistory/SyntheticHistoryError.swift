import CodedErrors

/// A synthetic history asked for in the wrong order.
public struct SyntheticHistoryError: CodedError {
    public enum Code: String, Sendable {
        /// Sessions were asked for before the catalog they belong to was made.
        case noCatalog = "no catalog"
    }

    public let code: Code
    public let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var codeName: String { code.rawValue }
}
