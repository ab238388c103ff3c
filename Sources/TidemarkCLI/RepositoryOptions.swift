import ArgumentParser
import Catalog
import Foundation

/// The options of `repository add|update`: a repository in the catalog.
struct RepositoryOptions: DefaultedDefinitionOptions {
    @Option(help: "The repository's folder (absolute).") var path: String?
    @Option(name: .customLong("max-tasks"), help: "Tasks (VM disks) written at once across all sessions (default 4).") var maxTasks: Int?
    @Option(
        name: .customLong("free-space-threshold"),
        help: ArgumentHelp("Take no new task below this share of free space (default 10%).", valueName: "percent"))
    var freeSpaceThreshold: String?
    @Option(help: "The site it stands in (default 'default').") var site: String?

    static func blank(named name: String) -> RepositoryDefinition { RepositoryDefinition(name: name, path: "") }

    var missingForAdd: String? { path == nil ? "a repository needs --path /absolute/folder" : nil }

    func apply(to repository: inout RepositoryDefinition, in state: CatalogState) throws(CatalogError) {
        if let path {
            // A folder that does not exist yet is made on first use; anything else there is refused now,
            // not at the first session.
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue {
                throw CatalogError(.invalidValue, "--path \(path) is a file, not a folder: give the folder the repository lives in (it is made on first use if it does not exist)")
            }
            repository.path = path
        }
        if let maxTasks { repository.maxConcurrentTasks = maxTasks }
        if let freeSpaceThreshold {
            guard let percent = Int(freeSpaceThreshold.hasSuffix("%") ? String(freeSpaceThreshold.dropLast()) : freeSpaceThreshold) else {
                throw CatalogError(.invalidValue, "--free-space-threshold '\(freeSpaceThreshold)' is not a percentage: write 10%")
            }
            repository.freeSpaceThresholdPercent = percent
        }
        if let site { repository.site = site }
    }
}
