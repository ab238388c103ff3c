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
    /// The most clients served at once: each holds a thread and a buffer of up to 32 MiB.
    let maximumClients: Int

    /// Everything `stop()` and the threads share, under one lock: a client accepted while the
    /// server stops is closed at once, and no descriptor is shut down after its owner closed it.
    private struct State {
        var stopped = false
        var listener: Int32 = -1
        /// The Unix socket's file (its path, device and inode), removed at the stop if still ours.
        var socketFile: (path: String, device: UInt64, inode: UInt64)?
        var connections: Set<Int32> = []
        /// Client threads still running (a stop waits for them).
        var running = 0
    }

    private let state = Mutex(State())
    private let counters = Mutex(Figures())
    private let onConnect: @Sendable (String) -> Void

    /// `onConnect` is told each client's address as it connects.
    public init(
        exports: [NBDExport], logger: Logger, maximumClients: Int = 64, onConnect: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.exports = exports
        self.logger = logger
        self.maximumClients = max(1, maximumClients)
        self.onConnect = onConnect
    }

    public var figures: Figures { counters.withLock { $0 } }

    /// Binds and listens (blocking: call it off the cooperative pool), then accepts on a
    /// thread of its own. Returns the address bound (a TCP port 0 becomes the port chosen).
    public func start(_ address: Address) throws -> Address {
        let (descriptor, bound) = try Self.listen(address)
        var socketFile: (String, UInt64, UInt64)?
        if case .unix(let path) = address {
            var info = stat()
            if stat(path, &info) == 0 { socketFile = (path, UInt64(info.st_dev), UInt64(info.st_ino)) }
        }
        state.withLock {
            $0.listener = descriptor
            $0.socketFile = socketFile.map { (path: $0.0, device: $0.1, inode: $0.2) }
        }
        Thread.detachNewThread { [self] in acceptLoop(descriptor) }
        return bound
    }

    /// Stops listening, drops every client, and waits (at most `wait`) for their threads to
    /// end, so nothing is read or written through an export once this returns. Blocking: call
    /// it off the cooperative pool. The accept thread closes the listener itself.
    public func stop(wait: Duration = .seconds(10)) {
        let socketFile = state.withLock { state -> (path: String, device: UInt64, inode: UInt64)? in
            guard !state.stopped else { return nil }
            state.stopped = true
            if state.listener >= 0 { shutdown(state.listener, Int32(SHUT_RDWR)) }
            for connection in state.connections { shutdown(connection, Int32(SHUT_RDWR)) }
            defer { state.socketFile = nil }
            return state.socketFile
        }
        if let socketFile {
            // Removed only if it is still the file this server made (not one another made since).
            var info = stat()
            if stat(socketFile.path, &info) == 0, UInt64(info.st_dev) == socketFile.device, UInt64(info.st_ino) == socketFile.inode {
                unlink(socketFile.path)
            }
        }
        let deadline = ContinuousClock.now + wait
        while state.withLock({ $0.running > 0 }) && ContinuousClock.now < deadline { usleep(5_000) }
        if state.withLock({ $0.running > 0 }) {
            logger.warning("NBD clients still running after the stop", metadata: ["clients": "\(state.withLock { $0.running })"])
        }
    }

    private func acceptLoop(_ descriptor: Int32) {
        defer { close(descriptor) }
        while !state.withLock({ $0.stopped }) {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let client = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(descriptor, $0, &length) }
            }
            if client < 0 {
                let code = errno
                if state.withLock({ $0.stopped }) { return }
                if code == EINTR || code == ECONNABORTED { continue }
                // Out of descriptors or memory for a moment: say so and go on accepting.
                logger.error("NBD server cannot accept a client; trying again", metadata: ["error": "\(String(cString: strerror(code)))"])
                usleep(100_000)
                continue
            }
            // Not inherited by a program the process starts (Glibc's module has no accept4).
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            var one: Int32 = 1
            setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            // A client that connects and says nothing does not hold its thread for ever.
            var timeout = timeval(tv_sec: 300, tv_usec: 0)
            setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let admitted = state.withLock { state -> Bool in
                guard !state.stopped, state.running < maximumClients else { return false }
                state.connections.insert(client)
                state.running += 1
                return true
            }
            guard admitted else {
                logger.warning(
                    "NBD client refused: the server is stopping or serves its most clients", metadata: ["limit": "\(maximumClients)"])
                close(client)
                continue
            }
            let peer = Self.describe(storage)
            counters.withLock { $0.clients += 1 }
            onConnect(peer)
            Thread.detachNewThread { [self] in
                var connectionLogger = logger
                connectionLogger[metadataKey: "client"] = "\(peer)"
                NBDConnection(socket: NBDSocket(descriptor: client), exports: exports, logger: connectionLogger, count: count).serve()
                state.withLock { state in
                    state.connections.remove(client)
                    close(client)
                    state.running -= 1
                }
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
                let code = errno
                close(descriptor)
                if code == EADDRINUSE, Self.isStale(path) {
                    // A socket file no process listens on (a publish that was killed): replaced.
                    unlink(path)
                    return try listen(address)
                }
                throw NBDError(
                    "cannot listen on \(path): \(String(cString: strerror(code)))\(code == EADDRINUSE ? " (another publish serves there: choose another path)" : "")"
                )
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
                let code = errno
                close(descriptor)
                throw NBDError(
                    "cannot listen on \(address): \(String(cString: strerror(code)))\(code == EADDRINUSE ? " (another publish or program serves there: choose another port)" : "")"
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

    /// A socket file nothing listens on: connecting to it is refused.
    private static func isStale(_ path: String) -> Bool {
        var info = stat()
        guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFSOCK else { return false }
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard probe >= 0 else { return false }
        defer { close(probe) }
        var socketAddress = sockaddr_un()
        socketAddress.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &socketAddress.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() where index < raw.count - 1 { raw[index] = byte }
        }
        let result = withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(probe, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return result != 0 && errno == ECONNREFUSED
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
