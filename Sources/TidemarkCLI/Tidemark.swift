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
            RestoreCommand.self, RestorePointCommand.self, PublishCommand.self, FilesCommand.self, UserCommand.self,
            TokenCommand.self, NotifyCommand.self, SettingsCommand.self, BenchCommand.self,
        ]
    )

    /// Parses, then runs; an error in either ends the process as `ErrorEnding` decides (a
    /// usage error with the usage and 64, an error met while running as `Error: ...` and 1).
    static func main() async {
        LoggingSystem.bootstrap { label in
            // Every logger of the process, including those libraries make for themselves:
            // standard error, warnings and errors unless a command's -v asks for more.
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        await parseAndRun(Array(CommandLine.arguments.dropFirst()))?.exit()
    }

    /// Parses the arguments and runs the command they name: nil when it succeeded, otherwise
    /// how the process ends for the error that stopped it.
    static func parseAndRun(_ arguments: [String]) async -> ErrorEnding? {
        var command: any ParsableCommand
        do {
            command = try await asyncParseAsRoot(arguments)
        } catch {
            return ErrorEnding(error, while: .parsing(arguments))
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            return ErrorEnding(error, while: .running)
        }
        return nil
    }
}
