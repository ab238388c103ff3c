import Foundation
import Synchronization

/// Hosts for tests and benches that need more than one: network namespaces (`ip netns`), each
/// joined to this one by a veth pair on a /24 of its own in 10.231.x.0 (our own addresses,
/// never anything else). A process started with `wrapper(for:)` runs "on" that host: it sees only
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
    /// The subnet block this set holds (10.231.<block × 5 + 1>.0/24 and on).
    private let block: Int
    /// The blocks sets of this process hold now: a new set never takes one of them.
    private static let blocksHeld = Mutex<Set<Int>>([])

    /// Whether the machine can make namespaces (root, `ip` installed); tests that need them
    /// are skipped with the reason otherwise.
    public static var available: Bool {
        geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip")
            || FileManager.default.isExecutableFile(atPath: "/sbin/ip") && geteuid() == 0
    }

    public init(count: Int) throws {
        let tag = String(UUID().uuidString.lowercased().prefix(4))
        var made: [Host] = []
        // A subnet block of its own per set, so suites running at once do not collide: none
        // another set of this process holds, nor one whose addresses this host already has
        // (another process's set).
        let block = Self.claimBlock(count: count)
        self.block = block
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
            Self.blocksHeld.withLock { _ = $0.remove(block) }
            throw error
        }
        hosts = made
    }

    deinit {
        Self.remove(hosts)
        Self.blocksHeld.withLock { [block] in _ = $0.remove(block) }
    }

    /// A free block: not held by this process, its subnets not on any link of this host.
    private static func claimBlock(count: Int) -> Int {
        let inUse = subnetsInUse()
        return blocksHeld.withLock { held in
            let free = (0..<50).filter { block in
                !held.contains(block) && !(1...max(1, count)).contains { inUse.contains(block * 5 + $0) }
            }
            let block = free.randomElement() ?? Int.random(in: 0..<50)
            held.insert(block)
            return block
        }
    }

    /// The third numbers of the 10.231.x.0/24 subnets on this host's links now.
    private static func subnetsInUse() -> Set<Int> {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ipPath)
        process.arguments = ["-o", "-4", "addr", "show"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return [] }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        var found = Set<Int>()
        for word in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) where word.hasPrefix("10.231.") {
            if let third = word.split(separator: ".").dropFirst(2).first.flatMap({ Int($0) }) { found.insert(third) }
        }
        return found
    }

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
            throw NetworkHostsError(message: "ip \(arguments.joined(separator: " ")) failed: \(text)")
        }
    }

    static func remove(_ hosts: [Host]) {
        // Deleting a namespace deletes the veth pair with it.
        for host in hosts { try? ip(["netns", "delete", host.namespace]) }
    }
}

/// An `ip` command that failed, with its output.
public struct NetworkHostsError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
