/// What an append expects of its stream: the optimistic-concurrency check.
///
/// Stream versions count events: the first event of a stream has version 1, so a stream
/// with `n` events is at version `n` and a missing stream is at 0.
public enum ExpectedVersion: Sendable, Hashable, CustomStringConvertible {
    /// No check.
    case any
    /// The stream must not exist yet.
    case noStream
    /// The stream must have at least one event.
    case streamExists
    /// The stream must hold exactly this many events.
    case exact(Int64)

    /// The encoding that `tidemark.append_events` takes.
    var databaseValue: Int64 {
        switch self {
        case .any: return -1
        case .noStream: return -2
        case .streamExists: return -3
        case .exact(let version): return version
        }
    }

    /// Checks a number typed by a person or another program.
    public static func exactly(_ version: Int64) throws(EventStoreError) -> ExpectedVersion {
        guard version >= 0 else {
            throw .invalid(
                "the expected version \(version) is negative: versions count events, so use 0 for a new stream or the stream's current event count"
            )
        }
        return .exact(version)
    }

    public var description: String {
        switch self {
        case .any: return "any version"
        case .noStream: return "no stream"
        case .streamExists: return "an existing stream"
        case .exact(let version): return "version \(version)"
        }
    }
}
