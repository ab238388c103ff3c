import Foundation
import Logging
import Synchronization

/// A network block device server: the exports it was given, on a TCP address or a Unix
/// socket, each client on a thread of its own (a blocking socket and blocking reads of the
/// backend, kept off Swift's cooperative pool). Fixed newstyle negotiation (`NBD_OPT_GO`,
/// `INFO`, `LIST`, `EXPORT_NAME`, `ABORT`), simple replies; a bad request is answered with the
/// protocol's error and the server goes on serving.
public final class NBDServer: Sendable {
    public enum Address: Sendable, Equatable, CustomStringConvertible {
        case tcp(host: String, port: UInt16)
        case unix(path: String)

        /// `127.0.0.1:10809`, `[::1]:10809` or a socket's path.
        public static func parse(_ text: String) throws -> Address {
            if text.hasPrefix("/") { return .unix(path: text) }
            guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
                throw NBDError("'\(text)' is not an address to listen on: write HOST:PORT, such as 127.0.0.1:10809 (port 0: any free one)")
            }
            var host = String(text[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            return .tcp(host: host, port: port)
        }

        public var description: String {
            switch self {
            case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            case .unix(let path): path
            }
        }
    }

    /// What the server did, for the publish's figures.
    public struct Figures: Sendable, Equatable {
        public var clients = 0
        public var reads = 0
        public var bytesRead: Int64 = 0
        public var writes = 0
        public var bytesWritten: Int64 = 0
        public var errors = 0
    }

    let exports: [NBDExport]
    let logger: Logger
    private let listener = Mutex<Int32>(-1)
    private let connections = Mutex<Set<Int32>>([])
    private let counters = Mutex(Figures())
    private let stopped = Mutex(false)
    private let onConnect: @Sendable (String) -> Void

    /// `onConnect` is told each client's address as it connects.
    public init(exports: [NBDExport], logger: Logger, onConnect: @escaping @Sendable (String) -> Void = { _ in }) {
        self.exports = exports
        self.logger = logger
        self.onConnect = onConnect
    }

    public var figures: Figures { counters.withLock { $0 } }

    /// Binds and listens (blocking: call it off the cooperative pool), then accepts on a
    /// thread of its own. Returns the address bound (a TCP port 0 becomes the port chosen).
    public func start(_ address: Address) throws -> Address {
        let (descriptor, bound) = try Self.listen(address)
        listener.withLock { $0 = descriptor }
        Thread.detachNewThread { [self] in acceptLoop(descriptor) }
        return bound
    }

    /// Stops listening and drops every client (their threads end at their next read).
    public func stop() {
        let descriptor = stopped.withLock { stopped -> Int32 in
            stopped = true
            return listener.withLock { current in
                defer { current = -1 }
                return current
            }
        }
        if descriptor >= 0 {
            shutdown(descriptor, Int32(SHUT_RDWR))
            close(descriptor)
        }
        for connection in connections.withLock({ $0 }) { shutdown(connection, Int32(SHUT_RDWR)) }
    }

    private func acceptLoop(_ descriptor: Int32) {
        while !stopped.withLock({ $0 }) {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let client = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(descriptor, $0, &length) }
            }
            if client < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            var one: Int32 = 1
            setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let peer = Self.describe(storage)
            connections.withLock { _ = $0.insert(client) }
            counters.withLock { $0.clients += 1 }
            onConnect(peer)
            Thread.detachNewThread { [self] in
                var connectionLogger = logger
                connectionLogger[metadataKey: "client"] = "\(peer)"
                NBDConnection(socket: NBDSocket(descriptor: client), exports: exports, logger: connectionLogger, count: count).serve()
                connections.withLock { _ = $0.remove(client) }
                close(client)
            }
        }
    }

    private func count(_ change: (inout Figures) -> Void) { counters.withLock { change(&$0) } }

    private static func listen(_ address: Address) throws -> (Int32, Address) {
        switch address {
        case .unix(let path):
            let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard descriptor >= 0 else { throw NBDError("cannot make a socket: \(String(cString: strerror(errno)))") }
            var socketAddress = sockaddr_un()
            socketAddress.sun_family = sa_family_t(AF_UNIX)
            let capacity = MemoryLayout.size(ofValue: socketAddress.sun_path)
            guard path.utf8.count < capacity else {
                close(descriptor)
                throw NBDError("the socket path \(path) is longer than \(capacity - 1) bytes: choose a shorter one")
            }
            withUnsafeMutableBytes(of: &socketAddress.sun_path) { raw in
                for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
            }
            let result = withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard result == 0, Glibc.listen(descriptor, 16) == 0 else {
                let reason = String(cString: strerror(errno))
                close(descriptor)
                throw NBDError("cannot listen on \(path): \(reason) (is another publish serving there? remove a stale socket file first)")
            }
            return (descriptor, address)
        case .tcp(let host, let port):
            var hints = addrinfo()
            hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var found: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, String(port), &hints, &found) == 0, let info = found else {
                throw NBDError("'\(host)' is not an IP address to listen on: give one such as 127.0.0.1 or ::1")
            }
            defer { freeaddrinfo(found) }
            let descriptor = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard descriptor >= 0 else { throw NBDError("cannot make a socket: \(String(cString: strerror(errno)))") }
            var one: Int32 = 1
            setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            guard bind(descriptor, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0, Glibc.listen(descriptor, 16) == 0 else {
                let reason = String(cString: strerror(errno))
                close(descriptor)
                throw NBDError(
                    "cannot listen on \(address): \(reason)\(errno == EADDRINUSE ? " (another publish or program serves there: choose another port)" : "")"
                )
            }
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            _ = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
            }
            let chosen = Self.port(storage) ?? port
            return (descriptor, .tcp(host: host, port: chosen))
        }
    }

    private static func port(_ storage: sockaddr_storage) -> UInt16? {
        var storage = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
            }
        case AF_INET6:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
            }
        default: return nil
        }
    }

    private static func describe(_ storage: sockaddr_storage) -> String {
        var storage = storage
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        var service = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        let family = Int32(storage.ss_family)
        guard family == AF_INET || family == AF_INET6 else { return "local socket" }
        let length = socklen_t(family == AF_INET ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size)
        let result = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, length, &host, socklen_t(host.count), &service, socklen_t(service.count), NI_NUMERICHOST | NI_NUMERICSERV)
            }
        }
        guard result == 0 else { return "?" }
        func text(_ characters: [CChar]) -> String {
            String(decoding: characters.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return "\(text(host)):\(text(service))"
    }
}
