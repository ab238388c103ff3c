import Foundation
import Postgres

/// A PostgreSQL cluster of a test's own (`Tools/pg-cluster`) that also listens on the given
/// addresses and takes the given networks: the catalog database of a test whose proxies run
/// on other hosts. Stopped and removed when released.
public final class NamespaceCluster: @unchecked Sendable {
    public let folder: URL
    public let port: Int
    public let administrator: PostgresConnectionSettings

    public init(listeningOn addresses: [String], networks: [String]) throws {
        let scratch = ProcessInfo.processInfo.environment["TIDEMARK_TEST_SCRATCH"] ?? NSTemporaryDirectory()
        folder = URL(fileURLWithPath: scratch).appendingPathComponent("pg-\(UUID().uuidString.prefix(8))")
        port = Int.random(in: 20_000..<40_000)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let output = folder.appendingPathComponent("start.out"), errors = folder.appendingPathComponent("start.err")
        let environment = [
            "TIDEMARK_PG_LISTEN=\(addresses.joined(separator: ","))", "TIDEMARK_PG_PORT=\(port)",
            "TIDEMARK_PG_HBA=\(networks.joined(separator: ","))",
        ]
        // A shell with its output in files, waited for with waitpid: the server the script
        // starts would hold pipes open, and Foundation's Process left the script unreaped here.
        let status = try Self.shell(
            "\(environment.joined(separator: " ")) '\(Self.script)' start '\(folder.path)' > '\(output.path)' 2> '\(errors.path)'")
        guard status == 0 else {
            throw TestSetupError("Tools/pg-cluster start failed: \((try? String(contentsOf: errors, encoding: .utf8)) ?? "")")
        }
        let url = try String(contentsOf: output, encoding: .utf8)
        administrator = PostgresConnectionSettings(url.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    deinit {
        _ = try? Self.shell("'\(Self.script)' stop '\(folder.path)' > /dev/null 2>&1")
        try? FileManager.default.removeItem(at: folder)
    }

    /// Runs `/bin/sh -c command` and waits for it; its exit status.
    static func shell(_ command: String) throws -> Int32 {
        var pid: pid_t = 0
        let arguments = ["/bin/sh", "-c", command]
        var argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let spawned = posix_spawn(&pid, "/bin/sh", nil, nil, &argv, environ)
        guard spawned == 0 else { throw TestSetupError("could not start /bin/sh: \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status >> 8) & 0xff
    }

    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Tools/pg-cluster").path
    }

    /// The service role's key/value connection string over TCP to `address`, for a process
    /// on another host.
    public func serviceURL(database: String, address: String, user: String = "tidemark_app") -> String {
        "host=\(address) port=\(port) dbname=\(database) user=\(user)"
    }
}
