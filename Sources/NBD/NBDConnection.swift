import Foundation
import Logging

/// One client: the fixed newstyle negotiation, then requests answered in order with simple
/// replies until it disconnects. Every refusal is the protocol's own error (an unknown export,
/// a read past the end, a write to a read-only export); only a broken stream ends the client.
struct NBDConnection {
    let socket: NBDSocket
    let exports: [NBDExport]
    let logger: Logger
    let count: ((inout NBDServer.Figures) -> Void) -> Void

    func serve() {
        do {
            guard let export = try negotiate() else { return }
            try transmit(export)
        } catch is NBDSocket.Closed {
            return
        } catch {
            logger.warning("NBD client dropped", metadata: ["error": "\(error)"])
        }
    }

    /// The export a name asks for: the empty name (the client's default) is the first.
    private func export(named name: String) -> NBDExport? {
        name.isEmpty ? exports.first : exports.first { $0.name == name }
    }

    private func transmissionFlags(_ export: NBDExport) -> UInt16 {
        var flags = NBDProtocol.transmissionHasFlags | NBDProtocol.transmissionSendFlush | NBDProtocol.transmissionCanMultiConnection
        if !export.backend.writable { flags |= NBDProtocol.transmissionReadOnly }
        return flags
    }

    /// The handshake and the options; nil when the client aborted or was refused for good.
    private func negotiate() throws -> NBDExport? {
        var greeting = NBDMessage()
        greeting.append(NBDProtocol.initMagic)
        greeting.append(NBDProtocol.optionMagic)
        greeting.append(NBDProtocol.flagFixedNewstyle | NBDProtocol.flagNoZeroes)
        try socket.write(greeting.bytes)
        let clientFlags = try socket.readUInt32()
        guard clientFlags & NBDProtocol.clientFixedNewstyle != 0,
            clientFlags & ~(NBDProtocol.clientFixedNewstyle | NBDProtocol.clientNoZeroes) == 0
        else {
            // The protocol: a client without fixed newstyle, or with a flag the server does not
            // know, is dropped.
            logger.info(
                "NBD client refused: it does not negotiate fixed newstyle, or sets unknown flags", metadata: ["flags": "\(clientFlags)"])
            return nil
        }
        let noZeroes = clientFlags & NBDProtocol.clientNoZeroes != 0
        while true {
            guard try socket.readUInt64() == NBDProtocol.optionMagic else { return nil }
            let option = try socket.readUInt32()
            let length = try socket.readUInt32()
            guard length <= 65_536 else {
                // Not read: a client sending that much during negotiation is not one to serve.
                return nil
            }
            let data = try socket.read(Int(length))
            switch NBDProtocol.Option(rawValue: option) {
            case .exportName:
                let name = String(decoding: data, as: UTF8.self)
                guard let export = export(named: name) else {
                    logger.info("NBD client asked for an unknown export", metadata: ["export": "\(name)"])
                    return nil
                }
                var reply = NBDMessage()
                reply.append(UInt64(export.backend.size))
                reply.append(transmissionFlags(export))
                if !noZeroes { reply.append([UInt8](repeating: 0, count: 124)) }
                try socket.write(reply.bytes)
                return export
            case .abort:
                try reply(option, .ack)
                return nil
            case .list:
                guard data.isEmpty else {
                    try reply(option, .errorInvalid, text: "NBD_OPT_LIST takes no data")
                    continue
                }
                for export in exports {
                    var entry = NBDMessage()
                    let name = Array(export.name.utf8)
                    entry.append(UInt32(name.count))
                    entry.append(name)
                    entry.append(Array(export.description.utf8))
                    try reply(option, .server, data: entry.bytes)
                }
                try reply(option, .ack)
            case .info, .go:
                guard let (name, _) = Self.infoRequest(data) else {
                    try reply(option, .errorInvalid, text: "the request's export name or information list is malformed")
                    continue
                }
                guard let export = export(named: name) else {
                    let known = exports.map(\.name).joined(separator: ", ")
                    try reply(option, .errorUnknown, text: "there is no export '\(name)': the exports are \(known)")
                    continue
                }
                var info = NBDMessage()
                info.append(NBDProtocol.Info.export.rawValue)
                info.append(UInt64(export.backend.size))
                info.append(transmissionFlags(export))
                try reply(option, .info, data: info.bytes)
                var blocks = NBDMessage()
                blocks.append(NBDProtocol.Info.blockSize.rawValue)
                blocks.append(UInt32(1))
                blocks.append(UInt32(min(export.backend.preferredBlockSize, NBDProtocol.maximumRequest)))
                blocks.append(UInt32(NBDProtocol.maximumRequest))
                try reply(option, .info, data: blocks.bytes)
                var description = NBDMessage()
                description.append(NBDProtocol.Info.description.rawValue)
                description.append(Array(export.description.utf8))
                try reply(option, .info, data: description.bytes)
                try reply(option, .ack)
                if option == NBDProtocol.Option.go.rawValue { return export }
            case .startTLS:
                try reply(option, .errorPolicy, text: "TLS is not offered: serve on loopback or a Unix socket")
            case .structuredReply, nil:
                try reply(option, .errorUnsupported)
            }
        }
    }

    /// The export name and the information asked for in `NBD_OPT_INFO` or `NBD_OPT_GO`.
    private static func infoRequest(_ data: [UInt8]) -> (String, [UInt16])? {
        guard data.count >= 4 else { return nil }
        let nameLength = Int(UInt32(bigEndian: data.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }))
        guard data.count >= 4 + nameLength + 2 else { return nil }
        let name = String(decoding: data[4..<(4 + nameLength)], as: UTF8.self)
        let countOffset = 4 + nameLength
        let requests = Int(UInt16(data[countOffset]) << 8 | UInt16(data[countOffset + 1]))
        guard data.count == countOffset + 2 + requests * 2 else { return nil }
        let items = (0..<requests).map { index in
            UInt16(data[countOffset + 2 + index * 2]) << 8 | UInt16(data[countOffset + 3 + index * 2])
        }
        return (name, items)
    }

    private func reply(_ option: UInt32, _ type: NBDProtocol.Reply, data: [UInt8] = [], text: String? = nil) throws {
        let payload = text.map { Array($0.utf8) } ?? data
        var message = NBDMessage()
        message.append(NBDProtocol.replyMagic)
        message.append(option)
        message.append(type.rawValue)
        message.append(UInt32(payload.count))
        message.append(payload)
        try socket.write(message.bytes)
    }

    /// Requests until the client disconnects.
    private func transmit(_ export: NBDExport) throws {
        let backend = export.backend
        var buffer = [UInt8]()
        while true {
            guard try socket.readUInt32() == NBDProtocol.requestMagic else {
                logger.info("NBD client sent a request without the request magic; dropped")
                return
            }
            _ = try socket.readUInt16()  // command flags (FUA: every write goes to the overlay file at once)
            let type = try socket.readUInt16()
            let handle = try socket.readUInt64()
            let offset = try socket.readUInt64()
            let length = Int(try socket.readUInt32())
            let command = NBDProtocol.Command(rawValue: type)
            if command == .write {
                // The payload follows whatever the answer: read it to stay in step.
                guard length <= NBDProtocol.maximumRequest else {
                    logger.info("NBD client sent a write larger than the maximum; dropped", metadata: ["length": "\(length)"])
                    return
                }
                if buffer.count < length { buffer = [UInt8](repeating: 0, count: length) }
                try buffer.withUnsafeMutableBytes { try socket.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<length])) }
            }
            let inside = offset <= UInt64(backend.size) && UInt64(length) <= UInt64(backend.size) - offset
            switch command {
            case .disconnect:
                return
            case .read:
                guard length <= NBDProtocol.maximumRequest else {
                    try simpleReply(handle, error: .overflow)
                    continue
                }
                guard inside else {
                    try simpleReply(handle, error: .invalid)
                    continue
                }
                if buffer.count < length { buffer = [UInt8](repeating: 0, count: length) }
                do {
                    try buffer.withUnsafeMutableBytes {
                        try backend.read(at: Int64(offset), into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<length]))
                    }
                } catch {
                    logger.error("NBD read failed", metadata: ["export": "\(export.name)", "offset": "\(offset)", "error": "\(error)"])
                    count { $0.errors += 1 }
                    try simpleReply(handle, error: .io)
                    continue
                }
                var header = NBDMessage()
                header.append(NBDProtocol.simpleReplyMagic)
                header.append(UInt32(0))
                header.append(handle)
                try socket.write(header.bytes)
                try buffer.withUnsafeBytes { try socket.write(UnsafeRawBufferPointer(rebasing: $0[0..<length])) }
                count {
                    $0.reads += 1
                    $0.bytesRead += Int64(length)
                }
            case .write:
                guard backend.writable else {
                    try simpleReply(handle, error: .permission)
                    continue
                }
                guard inside else {
                    try simpleReply(handle, error: .noSpace)
                    continue
                }
                do {
                    try buffer.withUnsafeBytes { try backend.write(at: Int64(offset), UnsafeRawBufferPointer(rebasing: $0[0..<length])) }
                } catch {
                    logger.error("NBD write failed", metadata: ["export": "\(export.name)", "offset": "\(offset)", "error": "\(error)"])
                    count { $0.errors += 1 }
                    try simpleReply(handle, error: .io)
                    continue
                }
                count {
                    $0.writes += 1
                    $0.bytesWritten += Int64(length)
                }
                try simpleReply(handle, error: nil)
            case .flush:
                var failed = false
                do {
                    try backend.flush()
                } catch {
                    logger.error("NBD flush failed", metadata: ["export": "\(export.name)", "error": "\(error)"])
                    count { $0.errors += 1 }
                    failed = true
                }
                try simpleReply(handle, error: failed ? .io : nil)
            case .cache:
                try simpleReply(handle, error: inside ? nil : .invalid)
            case .trim, .writeZeroes, .blockStatus, nil:
                try simpleReply(handle, error: .notSupported)
            }
        }
    }

    private func simpleReply(_ handle: UInt64, error: NBDProtocol.Errno?) throws {
        var reply = NBDMessage()
        reply.append(NBDProtocol.simpleReplyMagic)
        reply.append(error?.rawValue ?? 0)
        reply.append(handle)
        try socket.write(reply.bytes)
    }
}
