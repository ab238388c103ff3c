import ArgumentParser

@main
struct Tidemark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tidemark",
        abstract: "A backup server for virtual machines whose whole memory is an event log in PostgreSQL.",
        discussion: """
            With no database configured (--database-url, TIDEMARK_DATABASE_URL, PGHOST or PGDATABASE),
            tidemark runs its own PostgreSQL cluster in its data folder and reuses it next time.
            """,
        subcommands: [
            DemoCommand.self, JobCommand.self, RepositoryCommand.self, ProxyCommand.self, ServerCommand.self, ThrottleCommand.self,
            SessionCommand.self, ProjectionsCommand.self, DatabaseCommand.self, EventsCommand.self, LabCommand.self, RestoreCommand.self, BenchCommand.self,
        ]
    )
}
