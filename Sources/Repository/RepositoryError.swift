import CodedErrors
import Foundation

/// What went wrong in a backup repository, with the path or restore point concerned.
///
/// Messages say what was wrong, where, and what to do; the repository is left consistent
/// whenever one is thrown (writes are atomic, so nothing half-written is ever trusted).
public struct RepositoryError: CodedError, Equatable {
    public enum Code: String, Sendable {
        case invalidInput = "invalid input"
        case notARepository = "not a repository"
        case notWritable = "not writable"
        case missingChunk = "missing chunk"
        case corruptChunk = "corrupt chunk"
        case damagedManifest = "damaged manifest"
        case missingManifest = "missing manifest"
        case destinationExists = "destination exists"
        /// Another process holds the repository lock in a conflicting mode.
        case busy = "repository busy"
        /// The repository is encrypted and no key, or another key, was given.
        case keyRequired = "key required"
        case wrongKey = "wrong key"
        /// A transfer's write refused because a later holder of its task took it over
        /// (`DiskProgressFence`).
        case fenced = "fenced"
        /// A repository service that cannot be reached now (the link, the address, the service down).
        case unreachable = "repository unreachable"
        /// A repository service that refused a request (its certificate not the pinned one,
        /// the token, an immutable restore point, a quota reached).
        case refused = "refused by the repository service"
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

/// The text of the current `errno`.
public func errnoText(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
}
