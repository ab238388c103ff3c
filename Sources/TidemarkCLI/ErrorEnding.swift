import ArgumentParser
import CodedErrors
import Foundation

/// How `tidemark` ends after an error: what it prints and its exit status, decided here and
/// nowhere else so that every module's errors read alike.
///
/// The statuses (README, "Exit status"): 0 done (help and version end here too), 1 an error met
/// while running, 2 a session that failed (`job start` and `demo` print the report and throw
/// `ExitCode(2)`), 64 a usage error. A usage error is one found while the arguments are parsed
/// and validated, so the same `ValidationError` is a usage error (64, with the usage) before
/// `run()` and an error met while running (1, without it) after.
struct ErrorEnding: Equatable {
    /// Where the error was met.
    enum Phase {
        /// Parsing and validating these arguments.
        case parsing([String])
        /// Running the command they named.
        case running
    }

    /// Printed whole, on standard output when `status` is 0 (help, version), on standard
    /// error otherwise; nothing is printed when it is empty.
    let text: String
    let status: Int32

    init(text: String, status: Int32) {
        self.text = text
        self.status = status
    }

    init(_ error: any Error, while phase: Phase) {
        switch phase {
        case .parsing(let arguments):
            // ArgumentParser reads a misspelled subcommand as an argument of the one above,
            // and its message points elsewhere; name the typo instead.
            if Tidemark.exitCode(for: error) != .success, let unknown = UnknownSubcommand.find(in: arguments, root: Tidemark.self) {
                self.init(text: unknown.message, status: ExitCode.validationFailure.rawValue)
            } else {
                self.init(argumentParser: error)
            }
        case .running:
            switch error {
            case let error as ValidationError:
                self.init(failure: error.message)
            case _ where String(reflecting: type(of: error)).hasPrefix("ArgumentParser."):
                // ExitCode (a command's own status, its outcome already printed), CleanExit,
                // and the help a command with subcommands prints when run alone.
                self.init(argumentParser: error)
            case let error as any CodedError:
                // Every module's errors: the message alone, or PostgresError's safe text (see CodedError).
                self.init(failure: error.description)
            case let error as LocalizedError where error.errorDescription != nil:
                self.init(failure: error.errorDescription!)
            default:
                self.init(failure: String(describing: error))
            }
        }
    }

    /// An error met while running: `Error: ...` without the usage, status 1.
    private init(failure message: String) {
        self.init(text: "Error: \(message)", status: ExitCode.failure.rawValue)
    }

    /// The text and status ArgumentParser would end with: the message and the usage for a
    /// usage error (64), the help or version text (0), nothing and its own status for `ExitCode`.
    private init(argumentParser error: any Error) {
        self.init(text: Tidemark.fullMessage(for: error), status: Tidemark.exitCode(for: error).rawValue)
    }

    /// Prints `text` after whatever the command printed before, and exits with `status`.
    func exit() -> Never {
        fflush(nil)
        if !text.isEmpty {
            let stream = status == ExitCode.success.rawValue ? FileHandle.standardOutput : FileHandle.standardError
            stream.write(Data((text + "\n").utf8))
        }
        Foundation.exit(status)
    }
}
