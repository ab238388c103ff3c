import Ext4

/// One guest file as `files list`, `files diff` and the index see it: where it is, what it
/// is, and the metadata that tells a changed file from an unchanged one.
public struct GuestFileEntry: Sendable, Equatable {
    public let path: String
    public let kind: Ext4Metadata.Kind
    public let permissions: UInt16
    public let uid: UInt32
    public let gid: UInt32
    public let size: UInt64
    public let modifiedSeconds: Int64
    public let modifiedNanoseconds: UInt32
    /// Symbolic links only.
    public let linkTarget: String?

    init(_ located: Ext4Located, linkTarget: String?) {
        let metadata = located.metadata
        self.path = located.path
        self.kind = metadata.kind
        self.permissions = metadata.permissions
        self.uid = metadata.uid
        self.gid = metadata.gid
        self.size = metadata.size
        self.modifiedSeconds = metadata.modified.seconds
        self.modifiedNanoseconds = metadata.modified.nanoseconds
        self.linkTarget = linkTarget
    }

    /// What differs from `older`, in words (`size`, `modified`, `mode`, `owner`, `kind`,
    /// `target`); empty when nothing a diff looks at changed.
    public func changes(since older: GuestFileEntry) -> [String] {
        var changed: [String] = []
        if kind != older.kind { changed.append("kind") }
        if size != older.size && kind != .directory { changed.append("size") }
        if (modifiedSeconds, modifiedNanoseconds) != (older.modifiedSeconds, older.modifiedNanoseconds) && kind != .directory {
            changed.append("modified")
        }
        if permissions != older.permissions { changed.append("mode") }
        if (uid, gid) != (older.uid, older.gid) { changed.append("owner") }
        if linkTarget != older.linkTarget { changed.append("target") }
        return changed
    }
}

extension GuestVolume {
    /// `path` itself (links not followed) and, when it is a folder and `recursive`, everything
    /// under it (else its entries), in path order. Blocking.
    public func entries(under path: String, recursive: Bool) throws -> [GuestFileEntry] {
        let top = try fileSystem.locate(path)
        var entries: [GuestFileEntry] = []
        func add(_ located: Ext4Located) throws {
            let target = located.metadata.kind == .symlink ? try fileSystem.linkTarget(located.metadata.inode) : nil
            entries.append(GuestFileEntry(located, linkTarget: target))
        }
        guard top.metadata.kind == .directory else {
            try add(top)
            return entries
        }
        if recursive {
            try fileSystem.walk(top) { located in
                try add(located)
                return true
            }
        } else {
            for child in try fileSystem.children(of: top) { try add(child) }
        }
        return entries
    }
}

/// What changed under a path between two restore points: added, removed and changed
/// entries, each list in path order.
public struct GuestFileDiff: Sendable {
    public struct Changed: Sendable {
        public let entry: GuestFileEntry
        public let before: GuestFileEntry
        public let what: [String]
    }

    public let added: [GuestFileEntry]
    public let removed: [GuestFileEntry]
    public let changed: [Changed]

    public init(from older: [GuestFileEntry], to newer: [GuestFileEntry]) {
        let before = Dictionary(older.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        let after = Dictionary(newer.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        added = newer.filter { before[$0.path] == nil }
        removed = older.filter { after[$0.path] == nil }
        changed = newer.compactMap { entry in
            guard let old = before[entry.path] else { return nil }
            let what = entry.changes(since: old)
            return what.isEmpty ? nil : Changed(entry: entry, before: old, what: what)
        }
    }

    public var isEmpty: Bool { added.isEmpty && removed.isEmpty && changed.isEmpty }
}
