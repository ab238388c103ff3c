import CommandLineSupport
import Foundation
import PrivateCluster

/// restic and borg backing up the same two files, timed in the same run.
enum PeerBench {
    struct Figures {
        let version: String
        let fullRate: Double
        let secondRate: Double
        let restoreRate: Double
        let sizeAfterFull: Int64
        let growth: Int64
    }

    /// How to drive one peer tool.
    struct Peer {
        let program: String
        let environment: [String: String]
        let initialize: (_ repository: String) -> [String]
        let backup: (_ repository: String, _ archive: String, _ disk: String) -> [String]
        /// nil when the bench does not time this peer's restore.
        let restore: ((_ repository: String, _ target: String) -> [String])?
        let versionArguments: [String]
        let version: (String) -> String
    }

    static var resticPeer: Peer {
        Peer(
            program: "restic", environment: ["RESTIC_PASSWORD": "tidemark-bench"],
            initialize: { ["init", "--repo", $0] },
            backup: { repository, _, disk in ["backup", "--repo", repository, "--quiet", disk] },
            restore: { ["restore", "latest", "--repo", $0, "--target", $1] },
            versionArguments: ["version"],
            version: { $0.split(separator: " ").dropFirst().first.map(String.init) ?? "?" })
    }

    static func restic(first: String, second: String, work: String) throws -> Figures? {
        try measure(resticPeer, first: first, second: second, work: work)
    }

    /// One more full backup of `first` by restic into a fresh repository (MB/s), for the
    /// runs that repeat the full backup; nil when restic is not installed.
    static func resticFullRate(first: String, work: String) throws -> Double? {
        let peer = resticPeer
        guard let program = executable(named: peer.program) else { return nil }
        let full = try fullBackup(peer, program: program, of: first, work: work, name: "restic-full")
        try? FileManager.default.removeItem(atPath: full.source)
        try? FileManager.default.removeItem(atPath: full.repository)
        return full.megabytes / full.seconds
    }

    /// The start of every peer run: a fresh repository `<work>/<name>-repo` that the peer
    /// initializes, `first` copied to `<work>/<name>-source/disk.img`, and its full backup timed.
    private static func fullBackup(
        _ peer: Peer, program: String, of first: String, work: String, name: String
    ) throws -> (repository: String, source: String, disk: String, megabytes: Double, seconds: Double) {
        for (name, value) in peer.environment { setenv(name, value, 1) }
        let repository = "\(work)/\(name)-repo"
        let source = "\(work)/\(name)-source"
        try? FileManager.default.removeItem(atPath: repository)
        try? FileManager.default.removeItem(atPath: source)
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        try run(program, peer.initialize(repository))
        let disk = source + "/disk.img"
        try FileManager.default.copyItem(atPath: first, toPath: disk)
        let megabytes = Double((try FileManager.default.attributesOfItem(atPath: disk)[.size] as? Int64) ?? 0) / 1e6
        let seconds = try timed { try run(program, peer.backup(repository, "one", disk)) }
        return (repository, source, disk, megabytes, seconds)
    }

    static func borg(first: String, second: String, work: String) throws -> Figures? {
        try measure(
            Peer(
                program: "borg", environment: ["BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes"],
                initialize: { ["init", "--encryption=none", $0] },
                backup: { repository, archive, disk in ["create", "--compression", "zstd,3", "\(repository)::\(archive)", disk] },
                restore: nil,
                versionArguments: ["--version"],
                version: { $0.split(separator: " ").last.map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) } ?? "?" }),
            first: first, second: second, work: work)
    }

    /// Backs up `first`, then `second` at the same path (as a changed disk), then restores it
    /// when the peer's restore is timed; nil when the peer is not installed.
    static func measure(_ peer: Peer, first: String, second: String, work: String) throws -> Figures? {
        guard let program = executable(named: peer.program) else { return nil }
        let (repository, source, disk, size, full) = try fullBackup(peer, program: program, of: first, work: work, name: peer.program)
        defer { try? FileManager.default.removeItem(atPath: source) }
        let sizeAfterFull = try BenchBackupCommand.folderSize(repository)
        try FileManager.default.removeItem(atPath: disk)
        try FileManager.default.copyItem(atPath: second, toPath: disk)
        let incremental = try timed { try run(program, peer.backup(repository, "two", disk)) }
        let growth = try BenchBackupCommand.folderSize(repository) - sizeAfterFull
        var restoreRate = 0.0
        if let restore = peer.restore {
            let target = "\(work)/\(peer.program)-restore"
            try? FileManager.default.removeItem(atPath: target)
            defer { try? FileManager.default.removeItem(atPath: target) }
            restoreRate = size / (try timed { try run(program, restore(repository, target)) })
        }
        let version = (try? run(program, peer.versionArguments)).map(peer.version) ?? "?"
        return Figures(
            version: version, fullRate: size / full, secondRate: size / incremental, restoreRate: restoreRate,
            sizeAfterFull: sizeAfterFull, growth: growth)
    }

    @discardableResult
    static func run(_ program: String, _ arguments: [String]) throws -> String {
        let output = try ToolRunner(runAsServerAccount: false).run(program, arguments)
        guard output.status == 0 else {
            throw BenchError(
                "\((program as NSString).lastPathComponent) \(arguments.first ?? "") failed (\(output.status)): \(output.text.suffix(500))")
        }
        return output.text
    }

    static func timed(_ body: () throws -> Void) throws -> Double {
        let clock = ContinuousClock()
        let start = clock.now
        try body()
        return (clock.now - start).seconds
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
