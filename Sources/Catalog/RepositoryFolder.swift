import Foundation

extension RepositoryDefinition {
    /// The repository's folder; nil for a repository service on another host, which the
    /// sessions, restores and health checks of this host do not read or write through a
    /// folder. Each caller refuses that case with ``remoteRefusal(_:)``.
    public var folderURL: URL? { isRemote ? nil : URL(fileURLWithPath: path) }

    /// Why `work` (a backup, a restore, a health check) cannot use this repository: it is a
    /// repository service, which this version registers and checks but does not yet write
    /// sessions to.
    public func remoteRefusal(_ work: String) -> String {
        "repository '\(name)' is the repository service at \(service?.url ?? "?"): \(work) through a repository service is not available in this version; use a folder repository for it"
    }
}
