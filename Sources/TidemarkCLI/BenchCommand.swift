import ArgumentParser

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the event store beside bare PostgreSQL doing the same work on the same server.",
        discussion: "Each bench works in a scratch database (tidemark_bench) that it drops and creates again.",
        subcommands: [BenchAppendCommand.self, BenchReadCommand.self, BenchBackupCommand.self]
    )
}
