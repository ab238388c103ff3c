import Foundation
import Postgres

/// Hosts for tests that need more than one: network namespaces (`ip netns`), each joined to
/// this one by a veth pair on a /24 of its own in 10.231.x.0 (the test's own addresses, never
/// anything else). A process started with `wrapper(for:)` runs "on" that host: it sees only
/// its veth and its own loopback, and shares the file system (so the lab and the repository
/// are where they are here, as on NFS).
public final class NetworkNamespaces: @unchecked Sendable {
    public struct Host: Sendable {
        public let namespace: String
        /// This side of the link (where a service here listens for the host).
        public let gateway: String
        /// The host's own address.
        public let address: String
        public let network: String
        /// The veth end in this namespace: setting it down cuts the host off.
        public let link: String
    }

    public let hosts: [Host]

    /// Whether the machine can make namespaces (root, `ip` installed); tests that need them
    /// are skipped with the reason otherwise.
    public static var available: Bool {
        geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip")
            || FileManager.default.isExecutableFile(atPath: "/sbin/ip") && geteuid() == 0
    }

    public init(count: Int) throws {
        let tag = String(UUID().uuidString.lowercased().prefix(4))
        var made: [Host] = []
        // A subnet block of its own per set, so suites running at once do not collide.
        let block = Int.random(in: 0..<50)
        do {
            for index in 1...count {
                let subnet = "10.231.\(block * 5 + index)"
                let host = Host(
                    namespace: "tm\(tag)-\(index)", gateway: "\(subnet).1", address: "\(subnet).2", network: "\(subnet).0/24",
                    link: "tm\(tag)h\(index)")
                let peer = "tm\(tag)p\(index)"
                try Self.ip(["netns", "add", host.namespace])
                made.append(host)
                try Self.ip(["link", "add", host.link, "type", "veth", "peer", "name", peer])
                try Self.ip(["link", "set", peer, "netns", host.namespace])
                try Self.ip(["addr", "add", "\(host.gateway)/24", "dev", host.link])
                try Self.ip(["link", "set", host.link, "up"])
                try Self.ip(["-n", host.namespace, "addr", "add", "\(host.address)/24", "dev", peer])
                try Self.ip(["-n", host.namespace, "link", "set", peer, "up"])
                try Self.ip(["-n", host.namespace, "link", "set", "lo", "up"])
            }
        } catch {
            Self.remove(made)
            throw error
        }
        hosts = made
    }

    deinit { Self.remove(hosts) }

    /// Runs a program on `host`: put before its command line.
    public func wrapper(for host: Host) -> [String] { [Self.ipPath, "netns", "exec", host.namespace] }

    /// Cuts the host off (its link down), or connects it again.
    public func setLink(of host: Host, up: Bool) throws {
        try Self.ip(["link", "set", host.link, up ? "up" : "down"])
    }

    static var ipPath: String { FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") ? "/usr/sbin/ip" : "/sbin/ip" }

    static func ip(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ipPath)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestSetupError("ip \(arguments.joined(separator: " ")) failed: \(text)")
        }
    }

    static func remove(_ hosts: [Host]) {
        // Deleting a namespace deletes the veth pair with it.
        for host in hosts { try? ip(["netns", "delete", host.namespace]) }
    }
}

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
