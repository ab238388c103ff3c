/// An error of the event store that a caller can act on.
///
/// The store's own checks (names, JSON, versions) say what was wrong, where, and how to
/// fix it; nothing is written when one of them fails. Database failures arrive as
/// `PostgresError` and are passed through untouched.
public struct EventStoreError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Code: String, Sendable {
        /// The stream held another version than the append expected.
        case wrongExpectedVersion = "wrong expected version"
        /// Some of the append's event ids are stored already, but not as this same append.
        case eventIDConflict = "event id conflict"
        /// A stream name, event type, JSON document or version was refused before anything was sent.
        case invalidInput = "invalid input"
        /// The database has no Tidemark schema, or an older one than this build needs.
        case schemaNotReady = "schema not ready"
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

    public var description: String { "\(code.rawValue): \(message)" }
}
