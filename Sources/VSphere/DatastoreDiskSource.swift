import Foundation
import Infrastructure

/// One disk of a snapshot read through vCenter's datastore HTTP access (`/folder/...`): the
/// descriptor names the flat extent, whose bytes are read with range requests, larger than
/// the reads when they run in sequence (`RangeReadAhead`).
final class DatastoreDiskSource: BlockSource {
    let size: Int64
    let identity: String
    private let readAhead: RangeReadAhead

    private init(transport: HTTPTransport, path: String, cookie: String?, size: Int64, identity: String) {
        self.size = size
        self.identity = identity
        readAhead = RangeReadAhead(size: size) { offset, buffer throws(InfrastructureError) in
            try Self.fetch(transport: transport, path: path, cookie: cookie, size: size, identity: identity, offset: offset, into: buffer)
        }
    }

    static func open(
        client: VSphereClient, datacenter: String, descriptor: DatastorePath, capacity: Int64, identity: String
    )
        async throws(InfrastructureError) -> DatastoreDiskSource
    {
        let cookie = client.sessionCookie
        let descriptorURL = url(datacenter: datacenter, datastore: descriptor.datastore, path: descriptor.path)
        var headers: [String] = []
        if let cookie { headers.append("Cookie: \(cookie)") }
        // The first 64 KiB only: if the path is not a descriptor, do not fetch the whole disk.
        let response = try await client.transport.perform(HTTPRequest(path: descriptorURL, headers: headers, range: 0...65535))
        guard response.status == 200 || response.status == 206 else {
            throw InfrastructureError(
                .diskUnreadable,
                "the disk descriptor [\(descriptor.datastore)] \(descriptor.path) in datacenter \(datacenter) could not be read: HTTP \(response.status)"
            )
        }
        let extent = try DiskDescriptor.flatExtent(of: response.body, file: "[\(descriptor.datastore)] \(descriptor.path)")
        if extent.bytes < capacity {
            throw InfrastructureError(
                .diskUnreadable, "the extent \(extent.file) holds \(extent.bytes) bytes, less than the disk's capacity of \(capacity)")
        }
        let folder = (descriptor.path as NSString).deletingLastPathComponent
        let flat = folder.isEmpty ? extent.file : folder + "/" + extent.file
        return DatastoreDiskSource(
            transport: client.transport, path: url(datacenter: datacenter, datastore: descriptor.datastore, path: flat), cookie: cookie,
            size: capacity, identity: identity)
    }

    /// `/folder/PATH?dcPath=DC&dsName=DS`, each part percent-encoded.
    static func url(datacenter: String, datastore: String, path: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "?#;")
        var query = CharacterSet.urlQueryAllowed
        query.remove(charactersIn: "&=+?#")
        let encodedPath = path.addingPercentEncoding(withAllowedCharacters: allowed) ?? path
        return "/folder/\(encodedPath)?dcPath=\(datacenter.addingPercentEncoding(withAllowedCharacters: query) ?? datacenter)"
            + "&dsName=\(datastore.addingPercentEncoding(withAllowedCharacters: query) ?? datastore)"
    }

    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) async throws {
        guard buffer.count > 0 else { return }
        guard offset >= 0, offset + Int64(buffer.count) <= size else {
            throw InfrastructureError(
                .diskUnreadable, "a read at \(offset) of \(buffer.count) bytes passes the end of the \(size)-byte disk (\(identity))")
        }
        try await readAhead.read(at: offset, into: buffer)
    }

    /// One range request into `buffer`, on the calling (Dispatch) thread.
    private static func fetch(
        transport: HTTPTransport, path: String, cookie: String?, size: Int64, identity: String, offset: Int64,
        into buffer: UnsafeMutableRawBufferPointer
    ) throws(InfrastructureError) {
        var headers: [String] = []
        if let cookie { headers.append("Cookie: \(cookie)") }
        let request = HTTPRequest(path: path, headers: headers, range: offset...(offset + Int64(buffer.count) - 1))
        let response = try transport.performBlocking(request, into: buffer)
        guard response.status == 206 || (response.status == 200 && offset == 0 && Int64(buffer.count) == size) else {
            throw InfrastructureError(
                .diskUnreadable, "reading \(buffer.count) bytes at \(offset) of \(identity) failed: HTTP \(response.status)")
        }
        guard response.received == buffer.count else {
            throw InfrastructureError(
                .diskUnreadable,
                "reading \(buffer.count) bytes at \(offset) of \(identity) gave \(response.received): the extent is shorter than the disk")
        }
    }
}

/// A VMDK text descriptor: the one flat extent that holds a disk's bytes.
enum DiskDescriptor {
    static func flatExtent(of bytes: [UInt8], file: String) throws(InfrastructureError) -> (file: String, bytes: Int64) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.hasPrefix("# Disk DescriptorFile") || text.contains("createType=") else {
            throw InfrastructureError(
                .diskUnreadable,
                "\(file) is not a text disk descriptor (a sparse or stream-optimized disk?): only flat disks can be read through datastore HTTP access"
            )
        }
        var extents: [(String, Int64)] = []
        for line in text.split(whereSeparator: \.isNewline) {
            // RW 2097152 VMFS "vm-flat.vmdk"
            let fields = line.split(separator: " ", maxSplits: 3)
            guard fields.count == 4, ["RW", "RDONLY"].contains(fields[0]), let sectors = Int64(fields[1]) else { continue }
            guard ["VMFS", "FLAT"].contains(fields[2]) else {
                throw InfrastructureError(
                    .diskUnreadable,
                    "\(file) has a \(fields[2]) extent: only flat (VMFS or FLAT) extents can be read through datastore HTTP access")
            }
            let name = fields[3].split(separator: "\"", omittingEmptySubsequences: true).first.map(String.init) ?? ""
            extents.append((name, sectors * 512))
        }
        guard extents.count == 1, let extent = extents.first, !extent.0.isEmpty else {
            throw InfrastructureError(
                .diskUnreadable, "\(file) describes \(extents.count) extents; a disk of exactly one flat extent is needed")
        }
        return extent
    }
}
