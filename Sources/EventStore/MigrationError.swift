import CodedErrors

/// A migration problem, naming the file concerned.
public struct MigrationError: CodedError {
    public enum Code: String, Sendable {
        /// A file in Migrations/ is not named NNNN_lowercase_words.sql.
        case invalidFileName = "invalid file name"
        /// Two files share a number.
        case duplicateNumber = "duplicate number"
        /// Another session held the migration lock for longer than the migrator waits.
        case lockHeld = "migration lock held"
        /// A file was edited after the database applied it.
        case changedAfterApplied = "changed after applied"
        /// A file's SQL failed; its transaction was rolled back.
        case failed = "migration failed"
    }

    public let code: Code
    /// The file concerned, when there is one.
    public let file: String?
    public let message: String

    init(_ code: Code, file: String?, message: String) {
        self.code = code
        self.file = file
        self.message = message
    }

    public var codeName: String { code.rawValue }
}
