import ArgumentParser
import CommandLineSupport
import Foundation
import JobManager

/// `tidemark files restore`: guest files and folders of a restore point into a folder here,
/// as a restore session (who, which files, where) shown in `reporting.restores`.
struct FilesRestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore guest files and folders from a restore point into a folder on this machine (a restore session).",
        discussion: """
            Files keep their bytes, mode and times, and their owners when run as root; folders are restored with \
            everything in them; symbolic links are restored as links and never followed. The folder must be new or \
            empty unless --overwrite is given; nothing is written outside it.
            """)
    @OptionGroup var volume: FilesVolumeOptions
    @Option(name: .customLong("path"), help: "A guest file or folder to restore (repeat for several).") var paths: [String] = []
    @Option(name: .customLong("to"), help: "The folder on this machine the files go into (made if missing).") var folder: String
    @Flag(help: "Write over what is already in the folder.") var overwrite = false
    @OptionGroup var pointOptions: RestorePointOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if paths.isEmpty { throw ValidationError("name what to restore with --path (for example --path /etc/hosts)") }
    }

    func run() async throws {
        let order = RestoreOrder(
            vms: [volume.vm], point: pointOptions.choice,
            destination: .guestFiles(paths: paths, volume: volume.choice, folder: folder, overwrite: overwrite),
            reason: pointOptions.reason)
        try await RestoreRun.request(order, metadata: pointOptions.metadata, global: global)
    }
}
