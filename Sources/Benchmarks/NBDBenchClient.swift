import Foundation

/// The smallest NBD client the publish bench needs: connect, `NBD_OPT_GO` an export, read
/// 4 KiB pieces and time each. Blocking: run it off the cooperative pool.
struct NBDBenchClient {
    let descriptor: Int32

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    init(port: UInt16, export: String) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Failure(description: "cannot connect to 127.0.0.1:\(port)") }
        var one: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = try read(18)  // NBDMAGIC, IHAVEOPT, handshake flags
        try write(Self.bigEndian(UInt32(3)))  // fixed newstyle, no zeroes
        let name = Array(export.utf8)
        var option = Self.bigEndian(UInt64(0x4948_4156_454f_5054)) + Self.bigEndian(UInt32(7))
        option += Self.bigEndian(UInt32(4 + name.count + 2)) + Self.bigEndian(UInt32(name.count)) + name + Self.bigEndian(UInt16(0))
        try write(option)
        while true {
            let header = try read(20)
            let type = Self.uint32(header, at: 12)
            let length = Int(Self.uint32(header, at: 16))
            _ = try read(length)
            if type == 1 { break }
            guard type & 0x8000_0000 == 0 else { throw Failure(description: "the server refused the export \(export)") }
        }
    }

    /// Reads `length` bytes at `offset`; returns the seconds the round trip took.
    func timedRead(at offset: UInt64, length: UInt32, handle: UInt64) throws -> Double {
        let request =
            Self.bigEndian(UInt32(0x2560_9513)) + Self.bigEndian(UInt16(0)) + Self.bigEndian(UInt16(0)) + Self.bigEndian(handle)
            + Self.bigEndian(offset) + Self.bigEndian(length)
        let started = ContinuousClock.now
        try write(request)
        let reply = try read(16)
        guard Self.uint32(reply, at: 4) == 0 else { throw Failure(description: "the server answered a read with an error") }
        _ = try read(Int(length))
        let elapsed = ContinuousClock.now - started
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    func close() {
        let disconnect =
            Self.bigEndian(UInt32(0x2560_9513)) + Self.bigEndian(UInt16(0)) + Self.bigEndian(UInt16(2)) + Self.bigEndian(UInt64(0))
            + Self.bigEndian(UInt64(0)) + Self.bigEndian(UInt32(0))
        try? write(disconnect)
        Glibc.close(descriptor)
    }

    private func read(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let result = bytes.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress! + done, count - done, 0) }
            guard result > 0 else { throw Failure(description: "the server closed the connection") }
            done += result
        }
        return bytes
    }

    private func write(_ bytes: [UInt8]) throws {
        var done = 0
        while done < bytes.count {
            let result = bytes.withUnsafeBytes { send(descriptor, $0.baseAddress! + done, bytes.count - done, Int32(MSG_NOSIGNAL)) }
            guard result > 0 else { throw Failure(description: "the server closed the connection") }
            done += result
        }
    }

    static func bigEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }

    static func uint32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        bytes[offset..<(offset + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }
}
