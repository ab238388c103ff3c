import CodedErrors

/// Why a guest file system or a path in it could not be read.
public struct Ext4Error: CodedError, Equatable {
    public enum Code: String, Sendable {
        /// No ext2/3/4 superblock where one was looked for.
        case notExt4 = "not an ext4 file system"
        /// A path with a part that is not there.
        case notFound = "not found"
        /// A path that goes through something that is not a directory.
        case notADirectory = "not a directory"
        /// Symbolic links that lead round in a circle, or more than 40 deep.
        case tooManyLinks = "too many symbolic links"
        /// libext2fs found the file system's own structures damaged.
        case damaged = "damaged file system"
        /// The blocks underneath could not be read (the reader's own error is the message).
        case read = "read error"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var codeName: String { code.rawValue }
}
