/// What a guest file is, as its inode says: kind, permission bits, owner, size and times.
public struct Ext4Metadata: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case file, directory, symlink
        case characterDevice = "character device"
        case blockDevice = "block device"
        case fifo, socket
        case unknown

        /// From the mode's type bits (S_IFMT).
        init(mode: UInt16) {
            switch mode & 0o170000 {
            case 0o100000: self = .file
            case 0o040000: self = .directory
            case 0o120000: self = .symlink
            case 0o020000: self = .characterDevice
            case 0o060000: self = .blockDevice
            case 0o010000: self = .fifo
            case 0o140000: self = .socket
            default: self = .unknown
            }
        }

        /// The letter `ls -l` shows.
        public var letter: Character {
            switch self {
            case .file: "-"
            case .directory: "d"
            case .symlink: "l"
            case .characterDevice: "c"
            case .blockDevice: "b"
            case .fifo: "p"
            case .socket: "s"
            case .unknown: "?"
            }
        }
    }

    public let inode: UInt32
    public let kind: Kind
    /// Permission bits with setuid, setgid and sticky (0o7777).
    public let permissions: UInt16
    public let uid: UInt32
    public let gid: UInt32
    public let size: UInt64
    public let links: UInt16
    /// Seconds since 1970 and nanoseconds, as the guest recorded them.
    public let modified: (seconds: Int64, nanoseconds: UInt32)
    public let accessed: (seconds: Int64, nanoseconds: UInt32)

    public static func == (left: Ext4Metadata, right: Ext4Metadata) -> Bool {
        left.inode == right.inode && left.kind == right.kind && left.permissions == right.permissions && left.uid == right.uid
            && left.gid == right.gid && left.size == right.size && left.links == right.links && left.modified == right.modified
            && left.accessed == right.accessed
    }

    /// `-rw-r--r--` as `ls -l` writes it.
    public var modeString: String { Self.describe(kind: kind, permissions: permissions) }

    /// A kind and permission bits as `ls -l` writes them.
    public static func describe(kind: Kind, permissions: UInt16) -> String {
        let bits = Array("rwxrwxrwx")
        var text = String(kind.letter)
        for index in 0..<9 {
            text.append(permissions & (0o400 >> UInt16(index)) != 0 ? bits[index] : "-")
        }
        var characters = Array(text)
        if permissions & 0o4000 != 0 { characters[3] = characters[3] == "x" ? "s" : "S" }
        if permissions & 0o2000 != 0 { characters[6] = characters[6] == "x" ? "s" : "S" }
        if permissions & 0o1000 != 0 { characters[9] = characters[9] == "x" ? "t" : "T" }
        return String(characters)
    }
}
