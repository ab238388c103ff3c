import ArgumentParser
import CommandLineSupport
import EventStore
import Foundation
import Repository

/// `tidemark events verify`: walks the log's hash chain and names the first position where
/// the log no longer matches it; with `--repository`, also checks every chain head recorded
/// in the repository's manifests, which catches a chain recomputed after a forgery.
struct EventsVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check the log against its hash chain (and the chain heads a repository recorded); exit status 1 on a break.")
    @OptionGroup var options: GlobalOptions
    @Option(help: "Start after this position (the row holding it is checked whole); 0, the default, checks the whole log.")
    var from: Int64 = 0
    @Option(help: "A backup repository whose restore points recorded chain heads: each must match the chain.")
    var repository: String?
    @Flag(help: "Print one JSON object.") var json = false

    func validate() throws {
        guard from >= 0 else { throw ValidationError("--from must be 0 or more, not \(from)") }
        if let repository, !repository.hasPrefix("/") {
            throw ValidationError("--repository '\(repository)' is not absolute: give the repository's full path")
        }
    }

    /// A head a restore point recorded, and what the chain holds there.
    struct HeadCheck: Codable {
        let restorePoint: String
        let disk: String
        let position: Int64
        let recorded: String
        let chain: String?
        let matches: Bool
    }

    struct Report: Codable {
        let verification: EventChain.Verification
        let heads: [HeadCheck]?
        let restorePointsWithoutHead: Int?
    }

    func run() async throws {
        let logger = try options.makeLogger()
        let store = try await CatalogDatabase(options: options, logger: logger).openEventStore(maximumConnections: 1)
        let report: Report
        do {
            let verification = try await EventChain.verify(store, after: from)
            var heads: [HeadCheck]?
            var withoutHead: Int?
            if let repository {
                let checked = try await checkHeads(in: repository, store: store)
                heads = checked.checks
                withoutHead = checked.withoutHead
            }
            report = Report(verification: verification, heads: heads, restorePointsWithoutHead: withoutHead)
            await store.pool.close()
        } catch {
            await store.pool.close()
            throw error
        }
        print(json ? Self.json(report) : Self.text(report))
        let headsBroken = report.heads?.contains { !$0.matches } ?? false
        if report.verification.broken != nil || headsBroken { throw ExitCode(1) }
    }

    /// Every manifest's recorded head, against the chain hash of the event at its position.
    func checkHeads(in path: String, store: EventStore) async throws -> (checks: [HeadCheck], withoutHead: Int) {
        let repository = try BackupRepository.open(at: URL(fileURLWithPath: path))
        var checks: [HeadCheck] = []
        var withoutHead = 0
        var chainHashes: [Int64: String?] = [:]
        for point in try repository.restorePoints() {
            var recordedAny = false
            for disk in try repository.disks(of: point) {
                guard let head = try repository.manifest(restorePoint: point, disk: disk).logHead else { continue }
                recordedAny = true
                if chainHashes[head.position] == nil {
                    chainHashes[head.position] = .some(try await EventChain.hash(at: head.position, in: store))
                }
                let chain = chainHashes[head.position] ?? nil
                checks.append(
                    HeadCheck(
                        restorePoint: point, disk: disk, position: head.position, recorded: head.hash, chain: chain,
                        matches: chain == head.hash))
            }
            if !recordedAny { withoutHead += 1 }
        }
        return (checks, withoutHead)
    }

    static func text(_ report: Report) -> String {
        let verification = report.verification
        var lines: [String] = []
        let rate = String(format: "%.0f", verification.eventsPerSecond)
        let seconds = String(format: "%.2f", verification.seconds)
        if let broken = verification.broken {
            lines.append("the log's hash chain is broken at position \(broken.position) (\(broken.kind.rawValue)): \(broken.detail)")
        } else if let head = verification.head {
            lines.append(
                "the log matches its hash chain: \(verification.eventsChecked) events checked up to position \(head.position) in \(seconds) s (\(rate) events/s); head \(head.hash)"
            )
        } else {
            lines.append("the log is empty: nothing to verify")
        }
        if let heads = report.heads {
            let broken = heads.filter { !$0.matches }
            for check in broken.prefix(20) {
                let found = check.chain.map { "the chain holds \($0)" } ?? "the log has no event there"
                lines.append(
                    "restore point \(check.restorePoint), disk \(check.disk) recorded the chain head \(check.recorded) at position \(check.position); \(found): the log was rewritten at or before position \(check.position)"
                )
            }
            if broken.count > 20 { lines.append("... and \(broken.count - 20) more recorded heads that do not match") }
            let positions = Set(heads.map(\.position)).count
            if broken.isEmpty {
                lines.append(
                    "\(heads.count) chain heads recorded in the repository (\(positions) positions) match the chain"
                        + (report.restorePointsWithoutHead.map {
                            $0 > 0 ? "; \($0) restore points recorded none (made before the chain, or without a database)" : ""
                        } ?? ""))
            }
        }
        return lines.joined(separator: "\n")
    }

    static func json(_ report: Report) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: (try? encoder.encode(report)) ?? Data("{}".utf8), as: UTF8.self)
    }
}
