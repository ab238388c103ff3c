import EventStore
import Foundation
import Postgres
import PrivateCluster
import TestSupport
import Testing

@Suite("The private cluster")
struct PrivateClusterTests {
    /// A folder under the scratch space of `Tools/test`, reachable by the server account.
    static func scratchFolder(_ name: String) throws -> URL {
        let root = URL(fileURLWithPath: ProcessInfo.processInfo.environment["TIDEMARK_TEST_SCRATCH"] ?? NSTemporaryDirectory())
        let folder = root.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        _ = chmod(folder.path, 0o755)
        return folder
    }

    @Test("created on first start, reused on the next, its catalog kept across a stop")
    func lifecycle() async throws {
        let folder = try Self.scratchFolder("lifecycle")
        let cluster = try PrivateCluster(dataDirectory: folder.appendingPathComponent("data"))
        #expect(try cluster.status() == .notCreated)
        let administrator = try await cluster.prepare(logger: quietLogger)
        guard case .running = try cluster.status() else {
            Issue.record("the cluster does not run after prepare")
            return
        }
        #expect(try await cluster.startInBackground() == false)
        try await Migrator.bundled(logger: quietLogger).migrate(administrator)

        let store = EventStore(pool: PostgresPool(.init(settings: cluster.settings())), logger: quietLogger)
        let written = try await store.append(
            to: try StreamName("job-kept"), events: [try NewEvent(type: "JobCreated", jsonData: #"{"name": "kept"}"#)])
        await store.pool.close()

        try await cluster.stopInBackground()
        #expect(try cluster.status() == .stopped)
        #expect(try await cluster.startInBackground() == true)
        let reopened = EventStore(pool: PostgresPool(.init(settings: cluster.settings())), logger: quietLogger)
        let read = try await reopened.readStream(try StreamName("job-kept"))
        #expect(read.map(\.position) == written.positions)
        await reopened.pool.close()
        try await cluster.stopInBackground()
        try? FileManager.default.removeItem(at: folder)
    }

    @Test("it listens on its own socket only: no TCP port")
    func socketOnly() async throws {
        let folder = try Self.scratchFolder("socket")
        let cluster = try PrivateCluster(dataDirectory: folder.appendingPathComponent("data"))
        let administrator = try await cluster.prepare(logger: quietLogger)
        let connection = try await PostgresConnection.connect(administrator)
        let listen = try await connection.query("SELECT current_setting('listen_addresses')")
        #expect(try listen.decode(0, 0, as: String.self) == "")
        await connection.close()
        try await cluster.stopInBackground()
        try? FileManager.default.removeItem(at: folder)
    }

    @Test("a data folder too deep for a socket path is refused before anything is created")
    func tooDeep() throws {
        let deep = URL(fileURLWithPath: "/tmp/" + String(repeating: "very-long-folder-name/", count: 5))
        let error = #expect(throws: ClusterError.self) { try PrivateCluster(dataDirectory: deep) }
        #expect(error?.message.contains("too deep") == true)
        #expect(FileManager.default.fileExists(atPath: deep.path) == false)
    }

    @Test("missing server programs are named with the package that brings them")
    func missingBinaries() {
        let error = #expect(throws: ClusterError.self) {
            try PostgresBinaries.locate(path: "/nonexistent/bin", debianRoot: "/nonexistent/postgresql")
        }
        #expect(error?.message.contains("apt-get install postgresql") == true)
        #expect(error?.message.contains("initdb") == true)
    }
}

@Suite("The private cluster, run by root")
struct PrivateClusterAsRootTests {
    @Test(
        "a data folder the postgres account cannot reach is refused with the reason",
        .enabled(if: geteuid() == 0 && (try? FileManager.default.attributesOfItem(atPath: "/root")[.posixPermissions] as? Int) == 0o700))
    func unreachableFolder() throws {
        let folder = URL(fileURLWithPath: "/root/tidemark-unreachable-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let cluster = try PrivateCluster(dataDirectory: folder)
        let error = #expect(throws: ClusterError.self) { try cluster.start() }
        #expect(error?.message.contains("cannot reach") == true)
        #expect(error?.message.contains("/var/lib/tidemark") == true)
    }
}
