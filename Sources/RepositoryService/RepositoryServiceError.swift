import CodedErrors
import Repository

/// Why the repository service refused a request or could not start, with what to do. Each
/// code has the HTTP status the service answers with, so a client tells an immutable
/// restore point (403) from a bad chunk (422) or a missing one (404).
public struct RepositoryServiceError: CodedError, Equatable {
    public enum Code: String, Sendable {
        /// A request or setting that does not read.
        case invalidInput = "invalid input"
        /// No token, an unknown one, a bad signature, a stale date or a nonce seen before.
        case unauthorized
        /// Immutable data: deletion, overwrite or collection refused whatever the token.
        case immutable
        /// What was asked for is not held.
        case notFound = "not found"
        /// A chunk whose bytes are not what its name says.
        case mismatch
        /// A manifest naming chunks the service does not hold, or one that differs from the
        /// manifest already kept under its name.
        case conflict
        /// The host's quota of chunk bytes is reached.
        case quotaExceeded = "quota exceeded"
        /// The service's own journal does not verify.
        case damagedJournal = "damaged journal"
        case io = "input/output error"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// A repository's error as the service's: what it says stays, the kind maps to a status.
    public init(_ error: RepositoryError) {
        switch error.code {
        case .invalidInput, .damagedManifest, .keyRequired, .wrongKey: self.init(.invalidInput, error.message)
        case .missingChunk, .missingManifest: self.init(.notFound, error.message)
        case .corruptChunk: self.init(.mismatch, error.message)
        case .busy: self.init(.conflict, error.message + ": try again in a moment")
        default: self.init(.io, error.message)
        }
    }

    public var codeName: String { code.rawValue }

    public var httpStatus: Int {
        switch code {
        case .invalidInput: return 400
        case .unauthorized: return 401
        case .immutable: return 403
        case .notFound: return 404
        case .conflict: return 409
        case .mismatch: return 422
        case .quotaExceeded: return 507
        case .damagedJournal, .io: return 500
        }
    }
}
