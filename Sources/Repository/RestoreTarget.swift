import Foundation

/// Where a restore may write: never inside a Tidemark repository.
///
/// `restore --force --to` replaces a file, and a path inside a repository names manifests
/// and chunks; one mistyped path overwrote both. The target's real folder (symbolic links
/// resolved, so a link that leads into a repository is seen for what it is) and each folder
/// above it are checked for a `repository.json` that is a Tidemark marker; the repositories
/// the catalog knows are refused too, even when their volume is not mounted right now.
public enum RestoreTarget {
    /// Refuses `path` if it lies inside a repository. `knownRepositories`: folders the
    /// catalog names as repositories (absolute), refused with everything below them.
    public static func checkOutside(_ path: String, knownRepositories: [String] = []) throws(RepositoryError) {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        let folder = realFolder(of: (absolute as NSString).deletingLastPathComponent)
        let target = folder + "/" + (absolute as NSString).lastPathComponent
        var current = folder
        while true {
            if isRepositoryMarker(current + "/repository.json") {
                throw refusal(path, repository: current)
            }
            if current == "/" || current.isEmpty { break }
            current = (current as NSString).deletingLastPathComponent
        }
        for known in knownRepositories where known.hasPrefix("/") {
            let repository = realFolder(of: known)
            if target == repository || target.hasPrefix(repository.hasSuffix("/") ? repository : repository + "/") {
                throw refusal(path, repository: repository)
            }
        }
    }

    private static func refusal(_ path: String, repository: String) -> RepositoryError {
        RepositoryError(
            .invalidInput,
            "\(path) is inside the Tidemark repository \(repository): a restore there could overwrite its manifests or chunks; restore to a folder outside every repository"
        )
    }

    /// The folder with every symbolic link resolved; for a folder that does not exist yet,
    /// its nearest existing ancestor resolved and the rest appended.
    static func realFolder(of folder: String) -> String {
        var missing: [String] = []
        var current = folder.isEmpty ? "." : folder
        while true {
            if let resolved = realpath(current, nil) {
                defer { free(resolved) }
                let base = String(cString: resolved)
                return missing.reversed().reduce(base) { ($0 == "/" ? "" : $0) + "/" + $1 }
            }
            let parent = (current as NSString).deletingLastPathComponent
            if parent == current || parent.isEmpty { return folder }
            missing.append((current as NSString).lastPathComponent)
            current = parent
        }
    }

    /// Whether the file is a Tidemark repository's marker (not any file of that name).
    static func isRepositoryMarker(_ path: String) -> Bool {
        guard let bytes = try? DurableFile.read(path), bytes.count < 64 << 10,
            let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
        else { return false }
        return object["tool"] as? String == "tidemark" && object["format"] != nil
    }
}
