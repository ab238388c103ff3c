import ArgumentParser
import Foundation
import Logging

/// Options every command that touches the catalog takes (the benches' too, which is why they
/// live here rather than in the `tidemark` executable, which nothing can import).
public struct GlobalOptions: ParsableArguments {
    @Option(
        name: .customLong("database-url"),
        help: ArgumentHelp(
            "libpq connection string or URL of an existing catalog database (or set TIDEMARK_DATABASE_URL).",
            valueName: "url"))
    public var databaseURL: String?

    @Option(
        name: .customLong("data-dir"),
        help: ArgumentHelp(
            "Tidemark's data folder, home of the private PostgreSQL cluster (default: ~/.local/share/tidemark, or /var/lib/tidemark as root).",
            valueName: "path"))
    public var dataDirectory: String?

    @Flag(name: .shortAndLong, help: "More log lines on standard error: -v adds info, -vv debug (the default: warnings and errors only).")
    public var verbose: Int

    @Option(name: .customLong("log-level"), help: "Log level instead of -v: trace, debug, info, notice, warning, error or critical.")
    public var logLevel: String?

    public init() {}

    public func validate() throws {
        if let logLevel, Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level '\(logLevel)' is not a level: use trace, debug, info, notice, warning, error or critical")
        }
    }

    /// The level chosen: `--log-level`, else warning raised one step per `-v`.
    public var level: Logger.Level {
        if let logLevel, let level = Logger.Level(rawValue: logLevel) { return level }
        switch verbose {
        case 0: return .warning
        case 1: return .info
        case 2: return .debug
        default: return .trace
        }
    }

    /// A logger writing to standard error at the chosen level, for the command to pass to
    /// everything it runs (loggers made elsewhere stay at warnings and errors).
    public func makeLogger(label: String = "tidemark") throws -> Logger {
        try validate()
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}
