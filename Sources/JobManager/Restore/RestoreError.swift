import CodedErrors

/// Why a restore cannot be requested or cannot go on, with what to do about it.
public struct RestoreError: CodedError {
    public enum Code: String, Sendable {
        /// The request names something that does not exist or cannot be used as asked.
        case invalidRequest = "invalid restore"
        /// No restore point matches (the message lists the ones there are).
        case noSuchRestorePoint = "no such restore point"
        /// The target exists and the request did not allow replacing it.
        case targetExists = "target exists"
        /// The target has not room for the disks.
        case insufficientSpace = "insufficient space"
        /// Another process runs this restore right now.
        case busy = "restore busy"
        /// There is no such restore, or it ended.
        case noSuchRestore = "no such restore"
        /// A file of the restore could not be made, written or moved.
        case io = "i/o error"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var codeName: String { code.rawValue }
}
