import ArgumentParser
import Catalog
import CommandLineSupport
import Foundation
import Secrets

/// The options of `repository add|update`: a repository in the catalog.
struct RepositoryOptions: DefaultedDefinitionOptions {
    @Option(help: "The repository's folder (absolute).") var path: String?
    @Option(
        help: ArgumentHelp(
            "A repository service on another host ('tidemark repository serve'), in place of a folder: https://HOST:PORT.", valueName: "url"
        ))
    var url: String?
    @Option(
        help: ArgumentHelp(
            "The repository service's certificate's SHA-256 thumbprint, as 'tidemark repository serve' printed it (pinned).",
            valueName: "hex"))
    var thumbprint: String?
    @Option(
        name: .customLong("token-file"),
        help: ArgumentHelp(
            "A file holding the token the service issued ('--issue-token'), in the secrets folder (<data folder>/secrets), mode 600; the token never enters the catalog.",
            valueName: "path"))
    var tokenFile: String?
    @Option(name: .customLong("max-tasks"), help: "Tasks (VM disks) written at once across all sessions (default 4).") var maxTasks: Int?
    @Option(
        name: .customLong("free-space-threshold"),
        help: ArgumentHelp("Take no new task below this share of free space (default 10%).", valueName: "percent"))
    var freeSpaceThreshold: String?
    @Option(help: "The site it stands in (default 'default').") var site: String?
    @Option(
        name: .customLong("verify-every"),
        help: ArgumentHelp(
            "Scheduled health checks: verify restore points not verified for this long (7d, '14 days'; 'off' for none).", valueName: "days")
    )
    var verifyEvery: String?
    @Option(
        name: .customLong("verify-budget"),
        help: ArgumentHelp(
            "Bytes of restore points one scheduled health check reads (default 10GiB): 500MiB, 10GiB, 1TiB.", valueName: "size"))
    var verifyBudget: String?

    static func blank(named name: String) -> RepositoryDefinition { RepositoryDefinition(name: name, path: "") }

    var missingForAdd: String? {
        if path == nil && url == nil && thumbprint == nil && tokenFile == nil {
            return
                "a repository needs --path /absolute/folder, or --url https://HOST:PORT with --thumbprint and --token-file for a repository service on another host"
        }
        return nil
    }

    func validate() throws {
        // Together, so the service can be asked before the catalog changes: an address, a pin
        // or a token changed alone would be appended unchecked.
        let service = [url, thumbprint, tokenFile].compactMap { $0 }.count
        if service > 0 && service < 3 {
            throw ValidationError(
                "a repository service is given or changed with all of --url, --thumbprint (as 'tidemark repository serve' printed it) and --token-file, so it can be asked before the catalog changes"
            )
        }
        if path != nil && (url != nil || thumbprint != nil || tokenFile != nil) {
            throw ValidationError("a repository is a folder (--path) or a repository service (--url, --thumbprint, --token-file), not both")
        }
    }

    func apply(to repository: inout RepositoryDefinition, in state: CatalogState) throws(CatalogError) {
        var changes = RepositoryChanges()
        changes.path = path
        changes.serviceURL = url
        changes.serviceThumbprint = thumbprint.map(RepositoryEndpoint.normalized)
        if let tokenFile { changes.serviceToken = try SecretReference(source: .file, name: tokenFile) }
        changes.maxTasks = maxTasks
        if let freeSpaceThreshold {
            guard let percent = Int(freeSpaceThreshold.hasSuffix("%") ? String(freeSpaceThreshold.dropLast()) : freeSpaceThreshold) else {
                throw CatalogError(.invalidValue, "--free-space-threshold '\(freeSpaceThreshold)' is not a percentage: write 10%")
            }
            changes.freeSpaceThresholdPercent = percent
        }
        changes.site = site
        if let verifyEvery {
            guard let days = Self.days(verifyEvery) else {
                throw CatalogError(.invalidValue, "--verify-every '\(verifyEvery)' is not a number of days: write 7d, '14 days' or off")
            }
            changes.verifyEveryDays = days
        }
        if let verifyBudget {
            guard let bytes = Self.bytes(verifyBudget) else {
                throw CatalogError(.invalidValue, "--verify-budget '\(verifyBudget)' is not a size: write 500MiB, 10GiB or 1TiB")
            }
            changes.verifyBudgetBytes = bytes
        }
        changes.apply(to: &repository)
    }

    /// A folder that does not exist yet is made on first use; anything else there is refused
    /// now, not at the first session. A repository service is asked for its status with the
    /// token and the pinned thumbprint, so a wrong address, pin or token is refused before the
    /// catalog changes.
    func checkOnHost(_ global: GlobalOptions) async throws {
        if let tokenFile {
            let token: String
            do {
                token = try global.secretsLocation().files.read(tokenFile, what: "token file")
            } catch let error as SecretError {
                throw CommandFailure(error.message)
            }
            if let url, let thumbprint {
                try await RemoteRepositoryCheck.status(url: url, thumbprint: thumbprint, token: token)
            }
        }
        var isFolder: ObjCBool = false
        if let path, FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue {
            throw CatalogError(
                .invalidValue,
                "--path \(path) is a file, not a folder: give the folder the repository lives in (it is made on first use if it does not exist)"
            )
        }
    }

    /// `7d`, `7 days`, `1 day` → 7, 7, 1; `off` → nil inside `.some` (no scheduled checks).
    static func days(_ text: String) -> Int?? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        if trimmed == "off" || trimmed == "never" { return .some(nil) }
        for suffix in [" days", " day", "days", "day", "d"] where trimmed.hasSuffix(suffix) {
            if let days = Int(trimmed.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)) { return .some(days) }
        }
        return nil
    }

    /// `10GiB`, `10G`, `500MiB`, `1TiB`, `4096` (bytes) → bytes (binary units).
    static func bytes(_ text: String) -> Int64? {
        var upper = text.trimmingCharacters(in: .whitespaces).uppercased()
        if upper.hasSuffix("IB") { upper.removeLast(2) } else if upper.hasSuffix("B") { upper.removeLast() }
        let units: [(String, Double)] = [("K", 0x1p10), ("M", 0x1p20), ("G", 0x1p30), ("T", 0x1p40), ("P", 0x1p50)]
        var factor = 1.0
        if let (suffix, unit) = units.first(where: { upper.hasSuffix($0.0) }) {
            upper.removeLast(suffix.count)
            factor = unit
        }
        guard let value = Double(upper.trimmingCharacters(in: .whitespaces)), value > 0, value * factor < 0x1p62 else { return nil }
        return Int64(value * factor)
    }
}
