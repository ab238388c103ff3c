import BlockingIO
import Foundation
import Infrastructure
import Synchronization

/// A restored disk uploaded to a datastore through its HTTP file access: the flat extent
/// (`<name>-flat.vmdk`) streamed in one `PUT` as the restore writes it in order, then the text
/// descriptor (`<name>.vmdk`) that names it, the layout vCenter gives a flat disk.
///
/// A `PUT` cannot continue where an interrupted one stopped: the sink is not `resumable`, and
/// a restore that resumes sends the disk again from its start.
final class DatastoreUploadSink: BlockSink {
    let size: Int64
    var resumable: Bool { false }
    private let transport: HTTPTransport
    private let headers: [String]
    private let descriptorURL: String
    private let flatName: String
    private let stream = UploadStream()
    private let upload: Task<HTTPResponse, any Error>
    /// The offset the next write must start at: an upload is a stream.
    private let next = Mutex<Int64>(0)
    private let what: String

    init(client: VSphereClient, datacenter: String, descriptor: DatastorePath, size: Int64) {
        self.size = size
        transport = client.transport
        headers = client.sessionCookie.map { ["Cookie: vmware_soap_session=\($0)"] } ?? []
        let folder = (descriptor.path as NSString).deletingLastPathComponent
        let base = ((descriptor.path as NSString).lastPathComponent as NSString).deletingPathExtension
        flatName = base + "-flat.vmdk"
        let flatPath = folder.isEmpty ? flatName : folder + "/" + flatName
        descriptorURL = DatastoreDiskSource.url(datacenter: datacenter, datastore: descriptor.datastore, path: descriptor.path)
        what = "[\(descriptor.datastore)] \(flatPath)"
        let request = HTTPRequest(
            method: "PUT", path: DatastoreDiskSource.url(datacenter: datacenter, datastore: descriptor.datastore, path: flatPath),
            headers: headers + ["Content-Type: application/octet-stream"], upload: stream, uploadSize: size)
        let transport = transport
        let stream = stream
        upload = Task {
            defer { stream.end() }
            return try await transport.perform(request)
        }
    }

    deinit {
        stream.end()
        upload.cancel()
    }

    func write(at offset: Int64, _ bytes: [UInt8]) async throws {
        try await send(at: offset, bytes)
    }

    func zeros(at offset: Int64, length: Int64) async throws {
        var done: Int64 = 0
        while done < length {
            let count = Int(min(length - done, 1 << 20))
            try await send(at: offset + done, [UInt8](repeating: 0, count: count))
            done += Int64(count)
        }
    }

    private func send(at offset: Int64, _ bytes: [UInt8]) async throws {
        let due = next.withLock { next -> Int64 in
            defer { if next == offset { next = offset + Int64(bytes.count) } }
            return next
        }
        guard due == offset else {
            throw InfrastructureError(.invalidInput, "an upload to \(what) is written in order: \(offset) came where \(due) was due")
        }
        let stream = stream
        do {
            try await BlockingIOPool.shared.run { () throws(InfrastructureError) in try stream.append(bytes) }
        } catch {
            // The upload ended early: its own error says why (a dropped connection stays
            // `unreachable`, so the restore is left to resume and sends the disk again).
            let response = try await upload.value
            throw InfrastructureError(.io, "uploading \(what) was refused: HTTP \(response.status)")
        }
    }

    func read(at offset: Int64, count: Int) async throws -> [UInt8]? { nil }

    /// Nothing to make durable before the end: the datastore has the file only once the `PUT` completes.
    func flush() async throws {}

    func finish() async throws {
        let sent = next.withLock { $0 }
        guard sent == size else {
            throw InfrastructureError(.io, "the upload to \(what) ended at \(sent) of \(size) bytes")
        }
        stream.close()
        let response = try await upload.value
        guard (200..<300).contains(response.status) else {
            throw InfrastructureError(.io, "uploading \(what) failed: HTTP \(response.status)")
        }
        let descriptor =
            "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"vmfs\"\n\n"
            + "# Extent description\nRW \((size + 511) / 512) VMFS \"\(flatName)\"\n\n"
            + "# The Disk Data Base\n#DDB\n\nddb.adapterType = \"pvscsi\"\nddb.virtualHWVersion = \"13\"\n"
        let written = try await transport.perform(
            HTTPRequest(
                method: "PUT", path: descriptorURL, headers: headers + ["Content-Type: text/plain"], body: Array(descriptor.utf8)))
        guard (200..<300).contains(written.status) else {
            throw InfrastructureError(.io, "writing the descriptor of \(what) failed: HTTP \(written.status)")
        }
    }
}
