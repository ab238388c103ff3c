/// The name of a stream: one aggregate or process (`job-7f3c...`, `session-...`).
///
/// The part before the first `-` is the stream's category, which `readCategory` selects on.
/// Names are checked here, before anything reaches the database, so a bad one gets an
/// error that says what to change.
public struct StreamName: Hashable, Sendable, CustomStringConvertible {
    /// The longest name accepted, in characters.
    public static let maximumLength = 200

    public let rawValue: String

    public init(_ rawValue: String) throws(EventStoreError) {
        guard !rawValue.isEmpty else {
            throw .invalid("the stream name is empty: give a name such as 'job-nightly'")
        }
        // Code points, as PostgreSQL's length() counts them in the table's check.
        let length = rawValue.unicodeScalars.count
        guard length <= Self.maximumLength else {
            throw .invalid(
                "the stream name is \(length) characters long; the limit is \(Self.maximumLength)",
                stream: EscapedText.escaped(String(rawValue.unicodeScalars.prefix(40))) + "...")
        }
        // Spaces, control and format characters (bidi overrides, zero-width characters) and
        // line separators: a name must read the same in a terminal as it is stored.
        if let bad = rawValue.unicodeScalars.first(where: { $0.properties.isWhitespace || EscapedText.isInvisible($0) }) {
            let shown = EscapedText.escaped(rawValue)
            throw .invalid(
                "the stream name '\(shown)' contains a space, control or format character (U+\(String(bad.value, radix: 16, uppercase: true))): use letters, digits and '-'",
                stream: shown)
        }
        self.rawValue = rawValue
    }

    /// The part before the first `-` (the whole name when it has none).
    public var category: String {
        rawValue.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)
            ?? rawValue
    }

    public var description: String { rawValue }
}
