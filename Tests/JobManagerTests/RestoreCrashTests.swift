import Foundation
import Infrastructure
import JobManager
import TestSupport
import Testing

/// Kill a restore at every event boundary and resume it: it ends as the uninterrupted one —
/// one VM each, the same disks, switched on only once whole — and an export's files are moved
/// into place once.
@Suite("Restore crash resume", .serialized, .tags(.crash), .timeLimit(.minutes(20)))
struct RestoreCrashTests {
    /// What a finished restore left: the VMs it created (name → powered on, disk hashes), its
    /// figures, and the files of an export.
    struct Outcome: Equatable, CustomStringConvertible {
        var machines: [String: Bool] = [:]
        var disks: [String: String] = [:]
        var result = ""
        var read: Int64 = 0
        var written: Int64 = 0
        var skipped: Int64 = 0
        var files: [String: String] = [:]
        var description: String {
            "\(result) read \(read) written \(written) skipped \(skipped), VMs \(machines), disks \(disks.count), files \(files)"
        }
    }

    static func outcome(_ environment: JobEnvironment, pristine: Set<String>, exports: URL?) async throws -> Outcome {
        var outcome = Outcome()
        let machines = try await LabAdapter(root: environment.labPath).inventory().virtualMachines.filter { !pristine.contains($0.id) }
        for machine in machines {
            #expect(outcome.machines[machine.name] == nil, "two VMs named \(machine.name)")
            outcome.machines[machine.name] = machine.poweredOn
            for disk in machine.disks {
                outcome.disks["\(machine.name)/\(disk.key)"] = try JobEnvironment.sha256(
                    file: environment.labPath + "/disks/\(machine.id)-\(disk.key).img")
            }
        }
        let finished = try await environment.database.administratorQuery(
            """
            SELECT data->>'result', (data->>'read_bytes')::bigint, (data->>'written_bytes')::bigint, (data->>'skipped_bytes')::bigint
              FROM tidemark.events WHERE event_type = 'RestoreFinished'
            """)
        #expect(finished.rowCount == 1)
        outcome.result = try finished.decode(0, 0)
        outcome.read = try finished.decode(0, 1)
        outcome.written = try finished.decode(0, 2)
        outcome.skipped = try finished.decode(0, 3)
        if let exports {
            for name in try FileManager.default.contentsOfDirectory(atPath: exports.path) {
                outcome.files[name] = try JobEnvironment.sha256(file: exports.appendingPathComponent(name).path)
            }
        }
        return outcome
    }

    /// The unfinished restore a killed command left.
    static func unfinished(_ environment: JobEnvironment) async throws -> String? {
        let rows = try await environment.database.administratorQuery(
            """
            SELECT substr(stream_id, 9) FROM tidemark.events s WHERE event_type = 'RestoreRequested'
               AND NOT EXISTS (SELECT 1 FROM tidemark.events f WHERE f.stream_id = s.stream_id AND f.event_type = 'RestoreFinished')
            """)
        return rows.rowCount == 0 ? nil : try rows.decode(0, 0)
    }

    /// Runs `arguments` killed after `boundary` (nil: not killed), then resumes the restore
    /// the killed command left, and reads what it all left.
    static func run(
        _ arguments: [String], crashAfter boundary: Int?, environment: JobEnvironment, pristine: Set<String>, exports: URL?
    ) async throws -> Outcome {
        let killed = try environment.tidemark(arguments, crashAfter: boundary)
        if boundary != nil {
            #expect(killed.killed, "the restore was expected to die after event \(boundary!): \(killed.output)")
            if let id = try await unfinished(environment) {
                let resumed = try environment.tidemark(["restore", "resume", id])
                #expect(resumed.status == 0, "boundary \(boundary!): \(resumed.output)")
            }
        } else {
            #expect(killed.status == 0, "\(killed.output)")
        }
        return try await outcome(environment, pristine: pristine, exports: exports)
    }

    @Test("a two-VM restore into the lab, killed after every event, resumes to one VM each, whole, switched on once whole")
    func everyBoundaryOfATwoVMRestore() async throws {
        let arguments = ["restore", "vm", "lab-vm-01", "lab-vm-02", "--to-server", "lab", "--power-on"]
        let (baseline, events) = try await Self.fresh { environment, pristine in
            let outcome = try await Self.run(arguments, crashAfter: nil, environment: environment, pristine: pristine, exports: nil)
            return (outcome, try await RestoreTests.restoreEvents(environment))
        }
        #expect(baseline.result == "success" && baseline.machines == ["lab-vm-01-restored": true, "lab-vm-02-restored": true])
        #expect(baseline.disks.count == 4 && events > 12)
        for boundary in 1..<Int(events) {
            let outcome = try await Self.fresh { environment, pristine in
                try await Self.run(arguments, crashAfter: boundary, environment: environment, pristine: pristine, exports: nil)
            }
            #expect(outcome == baseline, "boundary \(boundary): \(outcome) ≠ \(baseline)")
        }
    }

    @Test("an export killed after every event resumes to the same files, each moved into place once")
    func everyBoundaryOfAnExport() async throws {
        let (baseline, events) = try await Self.fresh { environment, pristine in
            let exports = environment.folder.appendingPathComponent("exports")
            try FileManager.default.createDirectory(at: exports, withIntermediateDirectories: true)
            let arguments = ["restore", "export", "lab-vm-01", "--to-folder", exports.path]
            let outcome = try await Self.run(arguments, crashAfter: nil, environment: environment, pristine: pristine, exports: exports)
            return (outcome, try await RestoreTests.restoreEvents(environment))
        }
        #expect(baseline.result == "success" && baseline.files.count == 2)
        for boundary in 1..<Int(events) {
            let outcome = try await Self.fresh { environment, pristine in
                let exports = environment.folder.appendingPathComponent("exports")
                try FileManager.default.createDirectory(at: exports, withIntermediateDirectories: true)
                let arguments = ["restore", "export", "lab-vm-01", "--to-folder", exports.path]
                return try await Self.run(arguments, crashAfter: boundary, environment: environment, pristine: pristine, exports: exports)
            }
            #expect(outcome == baseline, "boundary \(boundary): \(outcome) ≠ \(baseline)")
        }
    }

    @Test("a restore killed halfway is finished by a running tidemark server, as the uninterrupted one")
    func serverResumes() async throws {
        let arguments = ["restore", "vm", "lab-vm-01", "lab-vm-02", "--to-server", "lab", "--power-on"]
        let baseline = try await Self.fresh { environment, pristine in
            try await Self.run(arguments, crashAfter: nil, environment: environment, pristine: pristine, exports: nil)
        }
        let outcome = try await Self.fresh { environment, pristine in
            let killed = try environment.tidemark(arguments, crashAfter: 7)
            #expect(killed.killed, "\(killed.output)")
            let server = try RunningTidemark(
                ["server", "run", "--listen", "none", "--database-url", environment.databaseURL], in: environment.folder)
            var finished = false
            for _ in 0..<600 where !finished {
                let rows = try await environment.database.administratorQuery(
                    "SELECT count(*) FROM tidemark.events WHERE event_type = 'RestoreFinished'")
                finished = try rows.decode(0, 0, as: Int64.self) == 1
                if !finished { try await Task.sleep(for: .milliseconds(100)) }
            }
            server.signal(SIGTERM)
            _ = try await server.waitForExit()
            #expect(finished, "the server did not finish the restore: \(server.output)")
            return try await Self.outcome(environment, pristine: pristine, exports: nil)
        }
        #expect(outcome == baseline, "\(outcome) ≠ \(baseline)")
    }

    /// A world of its own with one backup of two VMs of two 4 MiB disks each (run in this
    /// process), and the ids of the VMs it had before any restore.
    static func fresh<T>(_ body: (JobEnvironment, Set<String>) async throws -> T) async throws -> T {
        let environment = try await JobEnvironment.make(vms: 2, diskSize: 4 << 20, disksPerVM: 2)
        defer { environment.remove() }
        _ = try await environment.runInProcess()
        let pristine = Set(try await LabAdapter(root: environment.labPath).inventory().virtualMachines.map(\.id))
        return try await body(environment, pristine)
    }
}
