import CodedErrors
import Foundation

/// A catalog command or definition that was refused, and why.
///
/// Every refusal names what was wrong, where (the object, the field, the file line) and
/// how to fix it; a refused command appends nothing.
public struct CatalogError: CodedError, Equatable {
    public enum Code: String, Sendable {
        /// A field's value cannot be accepted (a malformed schedule, a rate of zero...).
        case invalidValue = "invalid value"
        /// The command names an object that does not exist (or no longer does).
        case notFound = "not found"
        /// Another object of the same kind already has this name.
        case duplicateName = "duplicate name"
        /// The command was based on a version of the object that changed since, in the same fields.
        case staleVersion = "stale version"
        /// The object is still referenced by another (a repository used by a job...).
        case inUse = "in use"
        /// A job would start after itself, directly or through other jobs.
        case scheduleCycle = "schedule cycle"
        /// The command would change nothing.
        case noChange = "no change"
        /// A definition file could not be read (syntax, unknown key, wrong type).
        case invalidDocument = "invalid document"
        /// The one asking may not do this (approve their own request).
        case notPermitted = "not permitted"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var codeName: String { code.rawValue }

    static func invalid(_ field: String, _ problem: String) -> CatalogError {
        CatalogError(.invalidValue, "\(field): \(problem)")
    }
}
