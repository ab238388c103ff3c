/// An error that says what went wrong twice: in a stable code for programs and in a sentence
/// for people.
///
/// Every Tidemark module's errors conform, so that all of them print alike: the message alone,
/// with no code in front. The messages are whole sentences that say what was wrong, where, and
/// what to do ("no job is named 'x' (known: nightly): see 'tidemark job list'"); a code in front
/// would say the same again in other words. Programs decide on the code instead (which errors
/// fail a session for good, which ones a retry may cure), and scripts and logs can match its
/// text.
///
/// A type keeps a `description` of its own only when its message cannot be shown as it is:
/// `PostgresError`'s message is the server's, which can quote the refused value.
public protocol CodedError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, in a few words that stay the same from release to release ("not found",
    /// "repository busy"): for programs, scripts and log searches, never instead of `message`.
    var codeName: String { get }
    /// What was wrong, where, and what to do about it, for a person.
    var message: String { get }
}

extension CodedError {
    /// The message alone: one format for every module's errors.
    public var description: String { message }
}
