extension Inventory {
    /// Each folder's path as people write it, datacenter first (`/DC1/vm/Prod`): how jobs
    /// select folders and restores name their target folder. One pass over a by-id index.
    public func folderPaths() -> [String: String] {
        let byID = Dictionary(folders.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var result: [String: String] = [:]
        var visiting = Set<String>()
        func path(_ id: String) -> String {
            if let known = result[id] { return known }
            guard let folder = byID[id], visiting.insert(id).inserted else { return "" }
            let prefix = folder.parent.map(path) ?? "/" + (datacenters.first { $0.id == folder.datacenter }?.name ?? folder.datacenter)
            let full = prefix + "/" + folder.name
            result[id] = full
            return full
        }
        for folder in folders { _ = path(folder.id) }
        return result
    }

    /// One folder's path, walking up from it only: what a restore point records for its VM,
    /// once per VM of a session, without the paths of every folder of the inventory.
    public func folderPath(of id: String) -> String? {
        guard var current = folders.first(where: { $0.id == id }) else { return nil }
        var names: [String] = []
        var seen: Set = [current.id]
        var prefix = ""
        while true {
            names.append(current.name)
            guard let parent = current.parent else {
                prefix = "/" + (datacenters.first { $0.id == current.datacenter }?.name ?? current.datacenter)
                break
            }
            // A parent the inventory lacks, or a loop, ends the path as `folderPaths` ends it.
            guard let next = folders.first(where: { $0.id == parent }), seen.insert(next.id).inserted else { break }
            current = next
        }
        return prefix + "/" + names.reversed().joined(separator: "/")
    }
}
