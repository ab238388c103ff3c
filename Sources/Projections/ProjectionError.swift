import CodedErrors

/// A projection that cannot run, named with what to do about it.
public struct ProjectionError: CodedError {
    public enum Code: String, Sendable {
        /// No projection has the name given.
        case notFound = "not found"
        /// Another rebuild or verification holds the maintenance lock of this database.
        case maintenanceRunning = "maintenance running"
        /// The projection tables are missing or incomplete: the database needs `tidemark db migrate`.
        case notMigrated = "not migrated"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var codeName: String { code.rawValue }
}
