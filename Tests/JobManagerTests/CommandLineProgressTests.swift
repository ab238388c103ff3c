import Foundation
import TestSupport
import Testing

/// How `job start` and the demo show a running session: a line per step, and the session's
/// progress in place on a terminal or as plain lines in a file or pipe.
@Suite("Command line: session progress")
struct CommandLineProgressTests {
    static let clearLine = "\r\u{1B}[2K"

    @Test(
        "in a pipe: a line per step and plain progress lines, up to every disk done",
        arguments: [
            // Disks of 1 MiB checkpoint every 256 KiB; disks of 128 KiB end before their first checkpoint.
            Int64(1 << 20), Int64(128 << 10),
        ])
    func plain(diskSize: Int64) async throws {
        let environment = try await JobEnvironment.make(vms: 3, diskSize: diskSize, disksPerVM: 2)
        defer { environment.remove() }
        let run = try environment.tidemark(["job", "start", environment.jobName])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("  objects: lab-vm-01, lab-vm-02, lab-vm-03 (6 disks)"), "\(run.output)")
        for vm in ["lab-vm-01", "lab-vm-02", "lab-vm-03"] {
            for disk in [2000, 2001] { #expect(run.output.contains("  \(vm)/\(disk): done, read "), "\(vm)/\(disk): \(run.output)") }
            #expect(run.output.contains("  \(vm): restore point "))
        }
        let progress = run.output.split(separator: "\n").filter { $0.hasPrefix("  progress: ") }
        #expect(!progress.isEmpty, "\(run.output)")
        #expect(progress.last?.hasPrefix("  progress: 6 of 6 disks done, 100% of ") == true, "\(progress)")
        #expect(!run.output.contains("\r") && !run.output.contains("\u{1B}"), "\(run.output)")
    }

    @Test(
        "on a terminal: the progress line is redrawn in place",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script")))
    func terminal() async throws {
        let environment = try await JobEnvironment.make(vms: 2, diskSize: 1 << 20)
        defer { environment.remove() }
        // script(1) runs the command on a pseudo-terminal and copies what it writes.
        let run = try await offThePool {
            try Program.run(
                "/usr/bin/script", ["-qfec", "\(TidemarkProcess.binary) job start \(environment.jobName)", "/dev/null"],
                in: environment.folder,
                environment: [
                    "TIDEMARK_DATABASE_URL": environment.databaseURL, "TIDEMARK_CHECKPOINT_BYTES": "262144",
                    "TIDEMARK_RETRY_WAIT_SECONDS": "0",
                ])
        }
        let text = run.output
        #expect(run.status == 0, "\(text)")
        #expect(text.contains(Self.clearLine + "  progress: "), "\(text.debugDescription)")
        #expect(text.contains(Self.clearLine + "  progress: 2 of 2 disks done, 100% of "), "\(text.debugDescription)")
        // Steps are whole lines even while the progress line is drawn.
        #expect(text.contains(Self.clearLine + "  lab-vm-01: restore point "), "\(text.debugDescription)")
    }

    @Test("the demo prints readable steps, the raw events only with --events, and heads each session by what it does")
    func demo() async throws {
        let database = try await TestDatabase.create()
        let scratch = ProcessInfo.processInfo.environment["TIDEMARK_TEST_SCRATCH"] ?? NSTemporaryDirectory()
        let folder = URL(fileURLWithPath: scratch).appendingPathComponent("demo-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let arguments = ["demo", "--data-dir", folder.path, "--database-url", database.service.keywordConnectionString]

        let first = try TidemarkProcess.run(arguments, in: URL(fileURLWithPath: scratch))
        #expect(first.status == 0, "\(first.output)")
        #expect(first.output.contains("session 1 of 2 of this run: full (the job's first backup reads every block)"), "\(first.output)")
        #expect(first.output.contains("session 2 of 2 of this run: incremental (changed blocks only)"), "\(first.output)")
        #expect(first.output.contains("  lab-vm-01/2000: full transfer into "), "\(first.output)")
        #expect(first.output.contains("  progress: 3 of 3 disks done, 100% of "), "\(first.output)")
        #expect(!first.output.contains("SessionStarted") && !first.output.contains("{\""), "\(first.output)")

        // A later run rewrites the lab before its first session: that one is incremental too.
        let second = try TidemarkProcess.run(arguments + ["--events"], in: URL(fileURLWithPath: scratch))
        #expect(second.status == 0, "\(second.output)")
        #expect(second.output.contains("session 1 of 2 of this run: incremental (changed blocks only)"), "\(second.output)")
        #expect(!second.output.contains("full ("), "\(second.output)")
        #expect(second.output.contains("SessionStarted") && second.output.contains("TransferFinished"), "\(second.output)")
        #expect(second.output.contains("byte-identical to the VM's disk"), "\(second.output)")
    }
}
