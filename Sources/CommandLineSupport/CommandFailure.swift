/// An error a command met while it ran (not a usage error): a session that does not exist, a
/// file that cannot be read, a check that failed. `tidemark` prints it as `Error: ...`,
/// without the usage, and exits with status 1 (see `ErrorEnding`).
public struct CommandFailure: Error, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
