import ArgumentParser
import Catalog
import Foundation
import JobManager

/// `tidemark repository check NAME`: the health check `tidemark server` schedules, run by
/// hand — the same plan, events and quarantine, recorded with the OS user as the actor.
struct RepositoryCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Run a health check of a catalog repository now: verify its least recently verified restore points within a budget.",
        discussion: """
            Reads and re-hashes every chunk of the restore points due (not verified within the repository's \
            --verify-every, or every restore point with --all), damaged ones and the oldest first, until the budget \
            (--budget, else the repository's --verify-budget, else 10GiB) is spent. Corrupt chunks are moved to \
            quarantine/ so the next backup stores their blocks again; a later check records the heal. Every finding \
            is an event on the repository's health stream and shows in reporting.restore_points. Exit status 1 when a \
            restore point verified is damaged.
            """)
    @OptionGroup var options: CatalogOptions
    @Argument(help: "The repository's name in the catalog.") var name: String
    @Flag(help: "Treat every restore point as due, whatever the repository's interval.") var all = false
    @Option(help: ArgumentHelp("Bytes of restore points to read in this run: 500MiB, 10GiB, 1TiB.", valueName: "size"))
    var budget: String?

    func validate() throws {
        if let budget, RepositoryOptions.bytes(budget) == nil {
            throw ValidationError("--budget '\(budget)' is not a size: write 500MiB, 10GiB or 1TiB")
        }
    }

    func run() async throws {
        let name = self.name, all = self.all, budget = self.budget.flatMap(RepositoryOptions.bytes)
        let actor = options.metadata.actor ?? "cli"
        let report = try await options.withCatalog(appending: true) { catalog -> HealthCheck.Report? in
            let state = try await catalog.load()
            let id = try state.require(RepositoryDefinition.self, named: name)
            guard let definition = state.repositories[id]?.definition else { return nil }
            return try await HealthCheck(
                store: catalog.events, logger: try options.global.makeLogger(), settings: try options.global.jobManagerSettings()
            ).run(
                repositoryID: id, definition: definition, trigger: .manual, actor: actor, everyDays: all ? 0 : nil, budgetBytes: budget)
        }
        guard let report else {
            print("repository '\(name)': no restore point is due for verification (--all verifies them anyway)")
            return
        }
        let finished = report.finished
        for healed in report.healed { print("healed: chunk \(healed) was stored again by a backup and reads back whole") }
        for point in report.damaged {
            print("damaged: restore point \(point.restorePointId), \(point.references) bad reference(s)")
            for damage in point.damage.prefix(5) {
                print("  \(damage.disk) at offset \(damage.offset)\(damage.chunk.map { ", chunk \($0)" } ?? ""): \(damage.problem)")
            }
        }
        print(
            "\(report.resumed ? "resumed and finished" : "finished") health check \(finished.checkId.prefix(8)) of '\(name)': "
                + "\(finished.verified) restore point(s), \(megabytes(finished.bytes)) MB verified; \(finished.corruptChunks) corrupt "
                + "(quarantined), \(finished.missingChunks) missing, \(finished.healedChunks) healed chunk(s): \(finished.result)")
        if finished.damaged > 0 { throw ExitCode(1) }
    }
}
