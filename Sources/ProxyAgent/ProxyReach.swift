import BlockingIO
import Catalog
import Foundation
import Infrastructure
import WorkflowEvents

/// What a proxy process reaches from its own host, checked when it registers: the job
/// manager gives it only disks it can read.
///
/// A lab is reached when its folder (`lab.json` and the disk images beside it) can be read
/// here: then every datastore of the lab. A vCenter is reached when its address accepts a TCP
/// connection here: then its datastores over the network (`*`; reading one still needs the
/// login a task brings). Anything else is not reached.
enum ProxyReach {
    static func check(_ catalog: CatalogState, timeout: Double = 3) async -> ProxyProcessEvent.Reach {
        var servers: [String: [String]] = [:]
        for (id, server) in catalog.servers {
            let definition = server.definition
            switch definition.platform {
            case .lab:
                guard let folder = definition.folder else { continue }
                let datastores = await BlockingIOPool.shared.run { () -> [String]? in
                    guard FileManager.default.isReadableFile(atPath: folder + "/lab.json"),
                        let lab = try? LabAdapter(root: folder)
                    else { return nil }
                    return lab.datastoreIDs
                }
                if let datastores { servers[id] = datastores }
            case .vcenter:
                guard let url = definition.url.flatMap(URL.init(string:)), let host = url.host else { continue }
                let port = url.port ?? (url.scheme == "http" ? 80 : 443)
                if await BlockingIOPool.shared.run({ TCPProbe.connects(host: host, port: port, timeout: timeout) }) {
                    servers[id] = ["*"]
                }
            }
        }
        return ProxyProcessEvent.Reach(servers: servers)
    }
}

/// Whether a TCP connection to an address opens within a time limit (blocking: run it on
/// the I/O threads).
enum TCPProbe {
    static func connects(host: String, port: Int, timeout: Double) -> Bool {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else { return false }
        defer { freeaddrinfo(list) }
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let address = entry {
            defer { entry = address.pointee.ai_next }
            let descriptor = socket(address.pointee.ai_family, address.pointee.ai_socktype | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard descriptor >= 0 else { continue }
            defer { close(descriptor) }
            if connect(descriptor, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 { return true }
            guard errno == EINPROGRESS else { continue }
            var poller = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
            guard poll(&poller, 1, Int32(timeout * 1000)) == 1 else { continue }
            var failure: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            if getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &failure, &length) == 0, failure == 0 { return true }
        }
        return false
    }
}
