import Foundation

extension RepositoryDefinition {
    /// The repository's folder; nil for a repository service on another host, which sessions
    /// and restores reach through its protocol (`ServiceRepository`). Work that needs a folder
    /// refuses that case with ``remoteRefusal(_:)``.
    public var folderURL: URL? { isRemote ? nil : URL(fileURLWithPath: path) }

    /// Why `work` cannot use this repository: it is a repository service, and that work needs
    /// the repository's folder on this host.
    public func remoteRefusal(_ work: String) -> String {
        "repository '\(name)' is the repository service at \(service?.url ?? "?"): \(work) through a repository service is not available in this version; use a folder repository for it"
    }
}
