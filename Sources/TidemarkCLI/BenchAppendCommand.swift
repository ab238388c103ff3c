import ArgumentParser

struct BenchAppendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "append", abstract: "Append throughput and latency.")
    @OptionGroup var options: GlobalOptions
    func run() async throws {}
}
struct BenchReadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "read", abstract: "Read throughput.")
    @OptionGroup var options: GlobalOptions
    func run() async throws {}
}
