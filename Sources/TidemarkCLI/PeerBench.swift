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

    /// Backs up `first`, then `second` at the same path (as a changed disk), then restores it.
    static func restic(first: String, second: String, work: String) throws -> Figures? {
        guard let restic = executable(named: "restic") else { return nil }
        setenv("RESTIC_PASSWORD", "tidemark-bench", 1)
        let repository = work + "/restic-repo"
        let source = work + "/restic-source"
        try? FileManager.default.removeItem(atPath: repository)
        try? FileManager.default.removeItem(atPath: source)
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        try run(restic, ["init", "--repo", repository])
        let disk = source + "/disk.img"
        try FileManager.default.copyItem(atPath: first, toPath: disk)
        let size = Double((try FileManager.default.attributesOfItem(atPath: disk)[.size] as? Int64) ?? 0) / 1e6
        let full = try timed { try run(restic, ["backup", "--repo", repository, "--quiet", disk]) }
        let sizeAfterFull = try BenchBackupCommand.folderSize(repository)
        try FileManager.default.removeItem(atPath: disk)
        try FileManager.default.copyItem(atPath: second, toPath: disk)
        let incremental = try timed { try run(restic, ["backup", "--repo", repository, "--quiet", disk]) }
        let growth = try BenchBackupCommand.folderSize(repository) - sizeAfterFull
        let target = work + "/restic-restore"
        try? FileManager.default.removeItem(atPath: target)
        let restore = try timed { try run(restic, ["restore", "latest", "--repo", repository, "--target", target]) }
        try? FileManager.default.removeItem(atPath: target)
        try? FileManager.default.removeItem(atPath: source)
        let version = (try? run(restic, ["version"]))?.split(separator: " ").dropFirst().first.map(String.init) ?? "?"
        return Figures(
            version: version, fullRate: size / full, secondRate: size / incremental, restoreRate: size / restore,
            sizeAfterFull: sizeAfterFull, growth: growth)
    }

    static func borg(first: String, second: String, work: String) throws -> Figures? {
        guard let borg = executable(named: "borg") else { return nil }
        setenv("BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK", "yes", 1)
        let repository = work + "/borg-repo"
        let source = work + "/borg-source"
        try? FileManager.default.removeItem(atPath: repository)
        try? FileManager.default.removeItem(atPath: source)
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        try run(borg, ["init", "--encryption=none", repository])
        let disk = source + "/disk.img"
        try FileManager.default.copyItem(atPath: first, toPath: disk)
        let size = Double((try FileManager.default.attributesOfItem(atPath: disk)[.size] as? Int64) ?? 0) / 1e6
        let full = try timed { try run(borg, ["create", "--compression", "zstd,3", repository + "::one", disk]) }
        let sizeAfterFull = try BenchBackupCommand.folderSize(repository)
        try FileManager.default.removeItem(atPath: disk)
        try FileManager.default.copyItem(atPath: second, toPath: disk)
        let incremental = try timed { try run(borg, ["create", "--compression", "zstd,3", repository + "::two", disk]) }
        let growth = try BenchBackupCommand.folderSize(repository) - sizeAfterFull
        try? FileManager.default.removeItem(atPath: source)
        let version = (try? run(borg, ["--version"]))?.split(separator: " ").last.map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) } ?? "?"
        return Figures(
            version: version, fullRate: size / full, secondRate: size / incremental, restoreRate: 0,
            sizeAfterFull: sizeAfterFull, growth: growth)
    }

    @discardableResult
    private static func run(_ program: String, _ arguments: [String]) throws -> String {
        let output = try ToolRunner(runAsServerAccount: false).run(program, arguments)
        guard output.status == 0 else {
            throw BenchError("\((program as NSString).lastPathComponent) \(arguments.first ?? "") failed (\(output.status)): \(output.text.suffix(500))")
        }
        return output.text
    }

    private static func timed(_ body: () throws -> Void) throws -> Double {
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
