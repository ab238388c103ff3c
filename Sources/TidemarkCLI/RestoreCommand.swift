import ArgumentParser
import CommandLineSupport
import EventStore
import Foundation
import JobManager

/// `tidemark restore`: VMs back into a managed server, a disk to a file, a VM's disks exported;
/// each a restore session (stream `restore-<uuid>`) that `tidemark session list` shows beside
/// backups and that is resumed after a crash. `restore file` reads a repository folder
/// directly, with nothing recorded.
struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore VMs, disks and exports from restore points, each a resumable, audited restore session.",
        discussion: """
            Find what to restore with 'tidemark restore-point list'. Every restore is checked before anything is written or created, \
            recorded with who asked and why (--reason), and resumed from its last checkpoint if it is interrupted \
            ('tidemark restore resume ID', or a running 'tidemark server').
            """,
        subcommands: [
            RestoreVMCommand.self, RestoreDiskCommand.self, RestoreExportCommand.self, RestoreResumeCommand.self,
            RestoreFileCommand.self,
        ],
        defaultSubcommand: RestoreFileCommand.self
    )
}

/// Which restore point, and why: shared by every restore that reads the catalog.
struct RestorePointOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The restore point: latest (the default) or its id.", valueName: "latest|ID"))
    var point: String = "latest"
    @Option(
        help: ArgumentHelp(
            "The newest restore point at or before this time (2026-11-30T22:00:00Z, or local '2026-11-30 22:00').", valueName: "TIME"))
    var at: String?
    @Option(help: "Why, recorded with the restore (the audit trail shows it).") var reason: String?
    @Option(help: ArgumentHelp("Who asks, recorded beside the OS user (default: cli:<OS user>).", valueName: "name"))
    var actor: String?

    func validate() throws {
        if at != nil && point != "latest" { throw ValidationError("give --point or --at, not both") }
        if let at, Self.time(at) == nil {
            throw ValidationError("--at '\(at)' is not a time: write 2026-11-30T22:00:00Z, 2026-11-30 22:00 (local time) or 2026-11-30")
        }
    }

    var choice: RestorePointChoice {
        if let at, let time = Self.time(at) { return .at(time) }
        return point == "latest" ? .latest : .id(point)
    }

    var metadata: EventMetadata {
        let account = "cli:\(ProcessInfo.processInfo.userName)"
        return EventMetadata(actor: actor.map { "\($0) (\(account))" } ?? account, host: ProcessInfo.processInfo.hostName)
    }

    /// ISO 8601 with a zone, or local date and time, or a local day (its end: "on that day").
    static func time(_ text: String) -> Date? {
        let iso = ISO8601DateFormatter()
        if let date = iso.date(from: text) { return date }
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = iso.date(from: text) { return date }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = .current
        for format in ["yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter.date(from: text).map { $0.addingTimeInterval(86_399) }
    }
}
