extension Inventory {
    /// Each folder's path as people write it, datacenter first (`/DC1/vm/Prod`): how jobs
    /// select folders and restores name their target folder.
    public func folderPaths() -> [String: String] {
        var result: [String: String] = [:]
        var visiting = Set<String>()
        func path(_ id: String) -> String {
            if let known = result[id] { return known }
            guard let folder = folders.first(where: { $0.id == id }), visiting.insert(id).inserted else { return "" }
            let prefix = folder.parent.map(path) ?? "/" + (datacenters.first { $0.id == folder.datacenter }?.name ?? folder.datacenter)
            let full = prefix + "/" + folder.name
            result[id] = full
            return full
        }
        for folder in folders { _ = path(folder.id) }
        return result
    }
}
