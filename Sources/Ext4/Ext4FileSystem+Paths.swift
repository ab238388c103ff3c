/// A guest path resolved to its inode, with the path as the guest's tree names it (links in
/// the middle followed, `.` and `..` taken away).
public struct Ext4Located: Sendable, Equatable {
    public let path: String
    public let metadata: Ext4Metadata
}

extension Ext4FileSystem {
    /// Symbolic links followed in one resolution before it is refused, as Linux's ELOOP.
    public static let linkLimit = 40

    /// Resolves an absolute guest path. Symbolic links on the way are followed inside the
    /// guest's own tree (an absolute target starts again at the guest's root, `..` never climbs
    /// above it); the last part is followed only with `followLast`. A part that is not there is
    /// named with the directory that lacks it.
    public func locate(_ path: String, followLast: Bool = false) throws -> Ext4Located {
        var pending = Array(path.split(separator: "/", omittingEmptySubsequences: true).map(String.init).reversed())
        var walked: [(name: String, inode: UInt32)] = []
        var links = 0
        var current = try metadata(Self.rootInode)
        func joined(_ parts: [(name: String, inode: UInt32)]) -> String { "/" + parts.map(\.name).joined(separator: "/") }
        while let part = pending.popLast() {
            if part == "." { continue }
            if part == ".." {
                if !walked.isEmpty { walked.removeLast() }
                current = try metadata(walked.last?.inode ?? Self.rootInode)
                continue
            }
            guard current.kind == .directory else {
                throw Ext4Error(
                    .notADirectory, "\(joined(walked)) is a \(current.kind.rawValue), not a directory: '\(path)' cannot go through it")
            }
            guard let inode = try lookup(part, in: current.inode) else {
                let parent = joined(walked)
                throw Ext4Error(
                    .notFound,
                    "\(path) is not there: \(parent) has no entry '\(part)' (see 'tidemark files list --path \(parent)')")
            }
            let found = try metadata(inode)
            if found.kind == .symlink, !pending.isEmpty || followLast {
                links += 1
                guard links <= Self.linkLimit else {
                    throw Ext4Error(.tooManyLinks, "\(path): more than \(Self.linkLimit) symbolic links on the way (a loop?)")
                }
                let target = try linkTarget(inode)
                if target.hasPrefix("/") {
                    walked = []
                    current = try metadata(Self.rootInode)
                }
                pending.append(contentsOf: target.split(separator: "/", omittingEmptySubsequences: true).map(String.init).reversed())
                continue
            }
            walked.append((part, inode))
            current = found
        }
        return Ext4Located(path: joined(walked), metadata: current)
    }

    /// A directory's entries with their metadata, sorted by name.
    public func children(of directory: Ext4Located) throws -> [Ext4Located] {
        let prefix = directory.path == "/" ? "/" : directory.path + "/"
        return try entries(of: directory.metadata.inode).sorted { $0.name < $1.name }.map { entry in
            Ext4Located(path: prefix + entry.name, metadata: try metadata(entry.inode))
        }
    }

    /// Everything under `top` (not `top` itself), depth first, each directory's entries by
    /// name; `visit` returns false to leave a directory's contents out. Symbolic links are not
    /// followed, and a directory met twice (a damaged or hostile file system whose entries
    /// lead back to a folder above) is listed but not entered again, so the walk ends; it keeps
    /// its own stack, so a deep tree cannot exhaust the thread's.
    public func walk(_ top: Ext4Located, _ visit: (Ext4Located) throws -> Bool) throws {
        guard top.metadata.kind == .directory else { return }
        var entered: Set<UInt32> = [top.metadata.inode]
        var pending: [[Ext4Located]] = [try children(of: top).reversed()]
        while !pending.isEmpty {
            guard let next = pending[pending.count - 1].popLast() else {
                pending.removeLast()
                continue
            }
            if try visit(next), next.metadata.kind == .directory, entered.insert(next.metadata.inode).inserted {
                pending.append(try children(of: next).reversed())
            }
        }
    }
}
