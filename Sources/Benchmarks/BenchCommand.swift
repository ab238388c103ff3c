import ArgumentParser

/// `tidemark bench`: the group of every bench. The benches live in this module rather than in
/// the `tidemark` executable so that the product's command line holds no measuring code; the
/// executable only registers this group.
public struct BenchCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the event store, the projections and the data plane beside a bare or peer reference in the same run.",
        discussion: "Each bench works in a scratch database (tidemark_bench) that it drops and creates again.",
        subcommands: [
            BenchAppendCommand.self, BenchReadCommand.self, BenchBackupCommand.self, BenchProjectionsCommand.self, BenchJobsCommand.self,
            BenchVSphereCommand.self, BenchProxiesCommand.self, BenchRestoreCommand.self,
            BenchPublishCommand.self, BenchFilesCommand.self, BenchAPICommand.self, BenchConsoleCommand.self,
            BenchRepositoryServiceCommand.self, BenchCopyCommand.self,
        ]
    )

    public init() {}
}
