import Foundation
import TestSupport
import Testing

/// The private cluster a command starts on its own says so (issue 11, defect 8): where it
/// runs and how to stop it; a command that finds it running says nothing.
@Suite("Command line: the private cluster it starts", .timeLimit(.minutes(5)))
struct CommandLineClusterTests {
    @Test("the first command starts the cluster and says where and how to stop it; the next says nothing")
    func announced() throws {
        let scratch = ProcessInfo.processInfo.environment["TIDEMARK_TEST_SCRATCH"] ?? NSTemporaryDirectory()
        let folder = URL(fileURLWithPath: scratch).appendingPathComponent("cluster-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let data = folder.appendingPathComponent("data").path
        defer {
            _ = try? TidemarkProcess.run(["db", "stop", "--data-dir", data], in: folder)
            try? FileManager.default.removeItem(at: folder)
        }
        let first = try TidemarkProcess.run(["job", "list", "--data-dir", data], in: folder)
        #expect(first.status == 0, "\(first.output)")
        #expect(
            first.output.contains("started Tidemark's private PostgreSQL cluster in \(data)")
                && first.output.contains("stop it with 'tidemark db stop --data-dir \(data)'"), "\(first.output)")
        let second = try TidemarkProcess.run(["job", "list", "--data-dir", data], in: folder)
        #expect(second.status == 0 && !second.output.contains("started Tidemark's private"), "\(second.output)")
    }
}
