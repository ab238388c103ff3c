import Foundation
import PrivateCluster
import Testing

/// A tool the private cluster runs gets standard input, output and error and nothing else: the
/// server `pg_ctl start` leaves running once held a test's pipe open for its whole life, and the
/// reader waiting for that pipe's end hung the whole run.
@Suite("The private cluster: the tools it runs")
struct ToolRunnerTests {
    @Test("a descriptor this process holds open is closed in the tool")
    func descriptorsClosed() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        defer { ends.forEach { close($0) } }
        let runner = ToolRunner(runAsServerAccount: false)
        let held = try runner.run("/usr/bin/readlink", ["/proc/self/fd/\(ends[1])"])
        #expect(held.status != 0, "the tool holds this process's pipe: \(held.text)")
        // The check itself works: the tool's own standard output is there.
        let own = try runner.run("/usr/bin/readlink", ["/proc/self/fd/1"])
        #expect(own.status == 0 && own.text.hasPrefix("/"), "\(own.text)")
    }
}
