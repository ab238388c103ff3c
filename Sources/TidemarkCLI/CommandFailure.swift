/// An error a command met while it ran (not a usage error): a session that does not exist, a
/// file that cannot be read, a check that failed. `tidemark` prints it as `Error: ...`,
/// without the usage, and exits with status 1 (see `ErrorEnding`).
struct CommandFailure: Error, CustomStringConvertible {
    let message: String

    init(_ message: String) {
        self.message = message
    }

    var description: String { message }
}
