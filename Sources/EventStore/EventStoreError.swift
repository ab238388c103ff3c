import CodedErrors
import Postgres

/// An error of the event store that a caller can act on.
///
/// The store's own checks (names, JSON, versions) say what was wrong, where, and how to
/// fix it; nothing is written when one of them fails. The append functions' own refusals
/// (SQLSTATE TM010, TM011) become `streamRefused` and `eventTooLarge`; other database
/// failures arrive as `PostgresError`, untouched.
public struct EventStoreError: CodedError, Equatable {
    public enum Code: String, Sendable {
        /// The stream held another version than the append expected.
        case wrongExpectedVersion = "wrong expected version"
        /// Some of the append's event ids are stored already, but not as this same append.
        case eventIDConflict = "event id conflict"
        /// A stream name, event type, JSON document or version was refused before anything was sent.
        case invalidInput = "invalid input"
        /// The database has no Tidemark schema, or an older one than this build needs.
        case schemaNotReady = "schema not ready"
        /// The database refused the stream: a category Tidemark does not write, a stream of
        /// the wrong shape, or an event type its category does not hold (SQLSTATE TM010).
        case streamRefused = "stream refused"
        /// The event's data and metadata exceed the database's limit of 1 MiB (SQLSTATE TM011).
        case eventTooLarge = "event too large"
    }

    public let code: Code
    public let message: String
    /// The stream concerned, when there is one.
    public let stream: String?
    /// For `wrongExpectedVersion`: what the caller expected and what the stream held.
    public let expected: ExpectedVersion?
    public let actualVersion: Int64?

    init(
        _ code: Code, _ message: String, stream: String? = nil, expected: ExpectedVersion? = nil,
        actualVersion: Int64? = nil
    ) {
        self.code = code
        self.message = message
        self.stream = stream
        self.expected = expected
        self.actualVersion = actualVersion
    }

    static func invalid(_ message: String, stream: String? = nil) -> EventStoreError {
        EventStoreError(.invalidInput, message, stream: stream)
    }

    public var codeName: String { code.rawValue }

    /// The SQLSTATE of each refusal the append functions raise, and the code it becomes.
    static let refusals: [PostgresError.Code: Code] = [.streamRefused: .streamRefused, .eventTooLarge: .eventTooLarge]

    /// The append functions' own refusals as an error the caller can act on; any other
    /// error is returned as it is.
    static func mapping(_ error: any Error, stream: StreamName?) -> any Error {
        guard let error = error as? PostgresError, error.kind == .server, let code = error.code, let mapped = refusals[code] else {
            return error
        }
        return EventStoreError(mapped, error.message, stream: stream?.rawValue)
    }
}

extension PostgresError.Code {
    /// Raised by the append functions for a stream whose category, shape or event type they refuse.
    public static let streamRefused = PostgresError.Code("TM010")
    /// Raised by the append functions for an event whose data and metadata exceed 1 MiB.
    public static let eventTooLarge = PostgresError.Code("TM011")
    /// Raised when something inserts into tidemark.events other than the append functions.
    public static let unchainedInsert = PostgresError.Code("TM012")
}
