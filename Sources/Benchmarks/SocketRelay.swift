import Foundation

/// A TCP port that relays every connection to a Unix socket: how a proxy process in a network
/// namespace of the bench's own reaches the private cluster (which listens on a Unix socket
/// only) over the namespace's veth link, as a proxy host reaches the catalog over the network.
///
/// Threads of its own block in `accept`, `read` and `write`: the relay never runs on the
/// cooperative pool. It lives as long as the bench; `stop()` ends it.
final class SocketRelay: @unchecked Sendable {
    /// The port it listens on (chosen by the kernel).
    let port: Int
    private let listener: Int32
    private let target: String
    private let connections = NSLock()
    private var open: [Int32] = []
    private var stopped = false

    struct RelayError: Error, CustomStringConvertible {
        let description: String
    }

    /// Listens on `address` (IPv4) at a free port; relays to the Unix socket at `target`.
    init(listenOn address: String, to target: String) throws {
        self.target = target
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw RelayError(description: "relay: socket() failed: \(String(cString: strerror(errno)))") }
        var reuse: Int32 = 1
        setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var bound = sockaddr_in()
        bound.sin_family = sa_family_t(AF_INET)
        bound.sin_port = 0
        guard inet_pton(AF_INET, address, &bound.sin_addr) == 1 else {
            close(socket)
            throw RelayError(description: "relay: \(address) is not an IPv4 address")
        }
        let bindResult = withUnsafePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bindResult == 0, listen(socket, 64) == 0 else {
            let reason = String(cString: strerror(errno))
            close(socket)
            throw RelayError(description: "relay: cannot listen on \(address): \(reason)")
        }
        var chosen = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &chosen) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        listener = socket
        port = Int(UInt16(bigEndian: chosen.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "tidemark-bench-relay"
        thread.start()
    }

    /// Stops accepting and cuts every relayed connection (each is closed by its own threads;
    /// the listener by the accept loop, once it has left `accept`).
    func stop() {
        connections.lock()
        defer { connections.unlock() }
        stopped = true
        shutdown(listener, Int32(SHUT_RDWR))
        for descriptor in open { shutdown(descriptor, Int32(SHUT_RDWR)) }
    }

    private func acceptLoop() {
        defer { close(listener) }
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                connections.lock()
                let done = stopped
                connections.unlock()
                // A connection that went away before it was taken, or a moment without
                // descriptors, is no reason to stop relaying.
                if !done && [EINTR, ECONNABORTED, EMFILE, ENFILE, ENOBUFS, ENOMEM].contains(errno) {
                    if errno != EINTR && errno != ECONNABORTED { usleep(10_000) }
                    continue
                }
                return
            }
            guard let server = connectTarget() else {
                close(client)
                continue
            }
            var noDelay: Int32 = 1
            setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
            connections.lock()
            if stopped {
                connections.unlock()
                close(client)
                close(server)
                return
            }
            open += [client, server]
            connections.unlock()
            // One thread per direction; the second to finish closes both ends.
            let finished = Finished()
            for (from, to) in [(client, server), (server, client)] {
                let thread = Thread { [self] in
                    Self.pump(from: from, to: to)
                    if finished.second() { self.forget(client, server) }
                }
                thread.start()
            }
        }
    }

    private func connectTarget() -> Int32? {
        let socket = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { return nil }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = Array(target.utf8)
        guard path.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(socket)
            return nil
        }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: path)
            buffer[path.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else {
            close(socket)
            return nil
        }
        return socket
    }

    private func forget(_ client: Int32, _ server: Int32) {
        connections.lock()
        defer { connections.unlock() }
        open.removeAll { $0 == client || $0 == server }
        close(client)
        close(server)
    }

    /// Copies until end of file or an error, then shuts the other side's writing down.
    private static func pump(from: Int32, to: Int32) {
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        outer: while true {
            let count = buffer.withUnsafeMutableBytes { read(from, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            var sent = 0
            while sent < count {
                // MSG_NOSIGNAL: a peer gone (a proxy killed) is an error here, not a SIGPIPE
                // that would end the bench.
                let written = buffer.withUnsafeBytes { send(to, $0.baseAddress! + sent, count - sent, Int32(MSG_NOSIGNAL)) }
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { break outer }
                sent += written
            }
        }
        shutdown(to, Int32(SHUT_WR))
    }

    /// Counts the two directions of a connection as they finish.
    private final class Finished: @unchecked Sendable {
        private let lock = NSLock()
        private var count = 0

        /// True for the second caller.
        func second() -> Bool {
            lock.lock()
            defer { lock.unlock() }
            count += 1
            return count == 2
        }
    }
}
