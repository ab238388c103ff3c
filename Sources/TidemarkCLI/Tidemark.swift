import ArgumentParser
import Benchmarks
import CommandLineSupport
import Foundation
import Logging

@main
struct Tidemark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tidemark",
        abstract: "A backup server for virtual machines whose whole memory is an event log in PostgreSQL.",
        discussion: """
            With no database configured (--database-url, TIDEMARK_DATABASE_URL, PGHOST or PGDATABASE),
            tidemark runs its own PostgreSQL cluster in its data folder and reuses it next time.
            Log lines go to standard error: warnings and errors by default, more with -v (info) or -vv (debug).
            """,
        version: "tidemark \(TidemarkVersion.current)",
        subcommands: [
            DemoCommand.self, JobCommand.self, RepositoryCommand.self, ProxyCommand.self, ServerCommand.self, ThrottleCommand.self,
            CredentialsCommand.self, SessionCommand.self, ProjectionsCommand.self, DatabaseCommand.self, EventsCommand.self,
            LabCommand.self,
            RestoreCommand.self, BenchCommand.self,
        ]
    )

    /// Parses, then runs, keeping the two kinds of failure apart: a usage error (found while
    /// the arguments are parsed and validated, or a misspelled subcommand) prints the message
    /// with the usage and exits 64; an error met while the command runs prints `Error: ...`
    /// alone and exits 1 (`ExitCode`s thrown by a command are its exit status).
    static func main() async {
        LoggingSystem.bootstrap { label in
            // Every logger of the process, including those libraries make for themselves:
            // standard error, warnings and errors unless a command's -v asks for more.
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let arguments = Array(CommandLine.arguments.dropFirst())
        var command: any ParsableCommand
        do {
            command = try await asyncParseAsRoot(arguments)
        } catch {
            if exitCode(for: error) != .success, let unknown = UnknownSubcommand.find(in: arguments, root: Tidemark.self) {
                FileHandle.standardError.write(Data((unknown.message + "\n").utf8))
                Foundation.exit(ExitCode.validationFailure.rawValue)
            }
            exit(withError: error)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as ValidationError {
            fail(error)
        } catch let error where String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") {
            // ExitCode, CleanExit, and the help a command with subcommands prints when run alone.
            exit(withError: error)
        } catch {
            fail(error)
        }
    }

    /// An error met while running: `Error: ...` on standard error, exit status 1.
    static func fail(_ error: any Error) -> Never {
        fflush(nil)  // what the command printed first comes first
        FileHandle.standardError.write(Data("Error: \(CommandFailure.message(for: error))\n".utf8))
        Foundation.exit(ExitCode.failure.rawValue)
    }
}
