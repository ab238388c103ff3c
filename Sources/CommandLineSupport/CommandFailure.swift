import ArgumentParser
import Foundation

/// An error a command met while it ran (not a usage error): a session that does not exist, a
/// file that cannot be read, a check that failed. `tidemark` prints it as `Error: ...`,
/// without the usage, and exits with status 1; usage errors (found while the arguments are
/// parsed and validated) keep ArgumentParser's usage block and status 64.
public struct CommandFailure: Error, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }

    /// What `tidemark` prints for any error thrown while a command runs.
    public static func message(for error: any Error) -> String {
        switch error {
        case let error as ValidationError: return error.message
        case let error as LocalizedError where error.errorDescription != nil: return error.errorDescription!
        default: return String(describing: error)
        }
    }
}
