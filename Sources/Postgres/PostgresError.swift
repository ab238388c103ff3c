import CodedErrors

/// An error from PostgreSQL or from talking to it.
///
/// `description` is safe for logs and replies: it names the kind, the SQLSTATE, the
/// statement and the server's primary message, never parameters, connection strings or
/// passwords. The server's detail (which can quote values, as in "Key (id)=(...)") is
/// kept for `debugDescription`. It is the one `CodedError` with a description of its own: its
/// `message` is the server's, not Tidemark's, and can quote the value it refused.
public struct PostgresError: CodedError, CustomDebugStringConvertible {
    /// What went wrong, at the level a caller decides on.
    public enum Kind: String, Sendable {
        /// The connection could not be opened (bad connection string, server not running, authentication).
        case connectionFailed = "connection failed"
        /// The connection broke while in use; the statement's effect is rolled back by the server,
        /// except for a COMMIT whose reply was lost (retry idempotent work only).
        case connectionLost = "connection lost"
        /// The server refused the statement.
        case server = "server error"
        /// A value could not be decoded into the requested Swift type.
        case decoding = "decoding error"
        /// A caller's input was refused before anything was sent.
        case invalidInput = "invalid input"
        /// The pool was closed while the caller waited or after it.
        case poolClosed = "pool closed"
        /// The protocol went somewhere this client does not expect (a libpq call failed).
        case client = "client error"
    }

    /// A PostgreSQL SQLSTATE code; the ones this project acts on are named.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let uniqueViolation = Code("23505")
        public static let checkViolation = Code("23514")
        public static let notNullViolation = Code("23502")
        public static let invalidTextRepresentation = Code("22P02")
        public static let invalidParameterValue = Code("22023")
        public static let serializationFailure = Code("40001")
        public static let deadlockDetected = Code("40P01")
        public static let insufficientPrivilege = Code("42501")
        public static let undefinedTable = Code("42P01")
        public static let undefinedFunction = Code("42883")
        public static let adminShutdown = Code("57P01")
        public static let crashShutdown = Code("57P02")
        public static let cannotConnectNow = Code("57P03")
        public static let queryCanceled = Code("57014")
        public static let lockNotAvailable = Code("55P03")
        public static let connectionException = Code("08000")
        public static let connectionFailure = Code("08006")
        /// Raised by Tidemark's triggers when something tries to change or remove an event.
        public static let eventLogImmutable = Code("TM001")
    }

    public let kind: Kind
    public let code: Code?
    /// The server's (or libpq's) primary message.
    public let message: String
    /// The server's detail line; may quote values, so it stays out of `description`.
    public let detail: String?
    public let hint: String?
    /// The statement that failed: a prepared statement's name or the first line of its SQL text.
    /// SQL text never carries values here, since every value travels as a parameter.
    public let statement: String?

    public init(
        _ kind: Kind, code: Code? = nil, message: String, detail: String? = nil,
        hint: String? = nil, statement: String? = nil
    ) {
        self.kind = kind
        self.code = code
        self.message = message
        self.detail = detail
        self.hint = hint
        self.statement = statement
    }

    /// The kind's text ("connection failed"); the SQLSTATE, when there is one, is `code`.
    public var codeName: String { kind.rawValue }

    /// True when running the same work again may succeed: the connection broke, the server
    /// is restarting, or a serialization failure or deadlock chose this transaction as victim.
    public var isRetryable: Bool {
        switch kind {
        case .connectionLost: return true
        case .connectionFailed: return code == .cannotConnectNow
        case .server:
            return code == .serializationFailure || code == .deadlockDetected
                || code == .adminShutdown || code == .crashShutdown
        default: return false
        }
    }

    /// Data exceptions (SQLSTATE class 22) quote the refused value in their primary message
    /// (`invalid input syntax for type uuid: "..."`), so for them `description` says only
    /// which kind of value was refused.
    var messageQuotesValue: Bool { code?.rawValue.hasPrefix("22") ?? false }

    public var description: String {
        var text = "PostgreSQL \(kind.rawValue)"
        if let code { text += " [\(code)]" }
        if let statement { text += " in statement '\(statement)'" }
        if messageQuotesValue {
            let kindOfValue = message.split(separator: ":", maxSplits: 1).first.map(String.init) ?? "invalid value"
            text += ": \(kindOfValue) (the value is in debugDescription)"
        } else {
            text += ": \(message)"
        }
        if let hint { text += " (hint: \(hint))" }
        return text
    }

    public var debugDescription: String {
        var text = description
        if messageQuotesValue { text += " — message: \(message)" }
        if let detail { text += " — detail: \(detail)" }
        return text
    }
}
