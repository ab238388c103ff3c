import Foundation

/// A connected socket read and written whole, big-endian, from one thread.
struct NBDSocket {
    let descriptor: Int32

    struct Closed: Error {}

    func read(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        try bytes.withUnsafeMutableBytes { try read(into: $0) }
        return bytes
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws {
        var done = 0
        while done < buffer.count {
            let result = recv(descriptor, buffer.baseAddress! + done, buffer.count - done, 0)
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else { throw Closed() }
            done += result
        }
    }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    func write(_ buffer: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < buffer.count {
            let result = send(descriptor, buffer.baseAddress! + done, buffer.count - done, Int32(MSG_NOSIGNAL))
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else { throw Closed() }
            done += result
        }
    }

    func readUInt16() throws -> UInt16 { UInt16(bigEndian: try read(2).withUnsafeBytes { $0.loadUnaligned(as: UInt16.self) }) }
    func readUInt32() throws -> UInt32 { UInt32(bigEndian: try read(4).withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }) }
    func readUInt64() throws -> UInt64 { UInt64(bigEndian: try read(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }) }
}

/// Big-endian fields appended to a message.
struct NBDMessage {
    var bytes: [UInt8] = []

    mutating func append(_ value: UInt16) { withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) } }
    mutating func append(_ value: UInt32) { withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) } }
    mutating func append(_ value: UInt64) { withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) } }
    mutating func append(_ data: [UInt8]) { bytes.append(contentsOf: data) }
}
