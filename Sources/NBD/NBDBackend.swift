/// What an NBD export serves: a disk of a fixed size, read (and, when writable, written) from
/// the connection threads, which are plain threads, never the cooperative pool.
public protocol NBDBackend: Sendable {
    var size: Int64 { get }
    var writable: Bool { get }
    /// The minimum and preferred block sizes a client should use (the chunk size).
    var preferredBlockSize: Int { get }
    /// Fills `buffer` with the bytes at `offset` (inside the disk: the server checks).
    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws
    /// Writes `bytes` at `offset`; only called when `writable`.
    func write(at offset: Int64, _ bytes: UnsafeRawBufferPointer) throws
    /// What was written is durable.
    func flush() throws
}

/// One export: a name the client asks for, what it serves.
public struct NBDExport: Sendable {
    public let name: String
    public let description: String
    public let backend: any NBDBackend

    public init(name: String, description: String, backend: any NBDBackend) {
        self.name = name
        self.description = description
        self.backend = backend
    }
}

/// Why the server refused to start.
public struct NBDError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
