import ArgumentParser
import Foundation
import Logging

/// Options every command that touches the catalog takes.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .customLong("database-url"),
        help: ArgumentHelp(
            "libpq connection string or URL of an existing catalog database (or set TIDEMARK_DATABASE_URL).",
            valueName: "url"))
    var databaseURL: String?

    @Option(
        name: .customLong("data-dir"),
        help: ArgumentHelp(
            "Tidemark's data folder, home of the private PostgreSQL cluster (default: ~/.local/share/tidemark, or /var/lib/tidemark as root).",
            valueName: "path"))
    var dataDirectory: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "warning"

    /// A logger writing to standard error at the chosen level.
    func makeLogger(label: String = "tidemark") throws -> Logger {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError(
                "--log-level '\(logLevel)' is not a level: use trace, debug, info, notice, warning, error or critical")
        }
        var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = level
        return logger
    }
}
