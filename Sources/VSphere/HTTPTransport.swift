import CCurl
import Dispatch
import Foundation
import Infrastructure
import Synchronization

/// One HTTP exchange with vCenter: the SDK endpoint, the vAPI REST endpoint or a datastore file.
struct HTTPRequest: Sendable {
    var method = "GET"
    /// Path and query, appended to the server's base address (`/sdk`, `/folder/vm/disk.vmdk?dsName=ds1`).
    var path: String
    var headers: [String] = []
    var body: [UInt8]? = nil
    /// Inclusive byte range for a partial read (`Range: bytes=a-b`).
    var range: ClosedRange<Int64>? = nil
    /// A body streamed as it is made (an upload of `uploadSize` bytes), instead of `body`.
    var upload: UploadStream? = nil
    var uploadSize: Int64 = 0
}

struct HTTPResponse: Sendable {
    let status: Int
    /// Header lines as received, names lower-cased.
    let headers: [(name: String, value: String)]
    let body: [UInt8]
    /// Bytes written into the caller's buffer, for a read into one.
    var received = 0

    func header(_ name: String) -> [String] { headers.filter { $0.name == name }.map(\.value) }
}

/// HTTP(S) to one vCenter through libcurl, with OpenSSL checking the certificate against the
/// system's CAs or a pinned SHA-256 thumbprint.
///
/// libcurl blocks, so async requests run on a Dispatch queue, never on the cooperative pool;
/// connections are kept alive in a pool of easy handles, one exchange per handle at a time.
final class HTTPTransport: Sendable {
    /// `https://host:port` without a path.
    let base: String
    let pinnedThumbprint: String?
    /// The catalog's name for the server, for the command a certificate refusal suggests.
    let serverName: String?
    private let handles = Mutex<[CurlHandle]>([])
    private let seenThumbprint = Mutex<String?>(nil)
    /// The SHA-256 thumbprint of the certificate the server presented on the last exchange
    /// (nil before one, and over plain HTTP).
    var certificateThumbprint: String? { seenThumbprint.withLock { $0 } }
    /// Threads for blocking exchanges, outside Swift's cooperative pool.
    static let blockingQueue = DispatchQueue(label: "tidemark.vsphere.http", attributes: .concurrent)
    private static let globalInit: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    init(base: String, pinnedThumbprint: String?, serverName: String? = nil) {
        self.base = base
        self.pinnedThumbprint = pinnedThumbprint
        self.serverName = serverName
        _ = Self.globalInit
    }

    func perform(_ request: HTTPRequest) async throws(InfrastructureError) -> HTTPResponse {
        let result: Result<HTTPResponse, InfrastructureError> = await withCheckedContinuation { continuation in
            Self.blockingQueue.async {
                do throws(InfrastructureError) {
                    continuation.resume(returning: .success(try self.performBlocking(request)))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    /// Runs the exchange on the calling thread; with `target`, the body is written straight into
    /// it and must fill it exactly (a disk read).
    func performBlocking(
        _ request: HTTPRequest, into target: UnsafeMutableRawBufferPointer? = nil
    ) throws(InfrastructureError)
        -> HTTPResponse
    {
        let handle = handles.withLock { $0.popLast() } ?? CurlHandle(pinnedThumbprint: pinnedThumbprint, serverName: serverName)
        let response = try handle.perform(request, base: base, into: target)
        if let seen = handle.seenThumbprint { seenThumbprint.withLock { $0 = seen } }
        handles.withLock { $0.append(handle) }
        return response
    }
}

/// A libcurl easy handle and its kept-alive connection; used by one exchange at a time.
private final class CurlHandle: @unchecked Sendable {
    private let curl: UnsafeMutableRawPointer
    private let trust: UnsafeMutablePointer<tm_tls_trust>
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private let serverName: String

    /// The leaf certificate's thumbprint on this handle's connection, once TLS has shown one.
    var seenThumbprint: String? {
        let seen = withUnsafeBytes(of: trust.pointee.seen) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return seen.isEmpty ? nil : seen
    }

    init(pinnedThumbprint: String?, serverName: String?) {
        self.serverName = serverName ?? "NAME"
        curl = curl_easy_init()!
        trust = .allocate(capacity: 1)
        trust.initialize(to: tm_tls_trust())
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        if let pinnedThumbprint {
            withUnsafeMutableBytes(of: &trust.pointee.pinned) { raw in
                let bytes = Array(pinnedThumbprint.utf8.prefix(64))
                raw.copyBytes(from: bytes)
                raw[bytes.count] = 0
            }
        }
        _ = tm_curl_set_trust(curl, trust)
        _ = tm_curl_set_pointer(curl, CURLOPT_ERRORBUFFER, errorBuffer)
        _ = tm_curl_set_long(curl, CURLOPT_NOSIGNAL, 1)
        _ = tm_curl_set_long(curl, CURLOPT_CONNECTTIMEOUT, 10)
        // A vCenter that stops answering mid-response is dropped after a minute of silence.
        _ = tm_curl_set_long(curl, CURLOPT_LOW_SPEED_LIMIT, 1)
        _ = tm_curl_set_long(curl, CURLOPT_LOW_SPEED_TIME, 60)
        _ = tm_curl_set_long(curl, CURLOPT_TCP_KEEPALIVE, 1)
        _ = tm_curl_set_string(curl, CURLOPT_ACCEPT_ENCODING, "")
        // Larger receive chunks: fewer callbacks and TLS reads per megabyte of disk.
        _ = tm_curl_set_long(curl, CURLOPT_BUFFERSIZE, 512 * 1024)
    }

    deinit {
        curl_easy_cleanup(curl)
        trust.deallocate()
        errorBuffer.deallocate()
    }

    func perform(
        _ request: HTTPRequest, base: String, into target: UnsafeMutableRawBufferPointer?
    ) throws(InfrastructureError)
        -> HTTPResponse
    {
        let sink = ResponseSink(target: target)
        let url = base + request.path
        errorBuffer[0] = 0
        _ = tm_curl_set_string(curl, CURLOPT_URL, url)
        _ = tm_curl_set_string(curl, CURLOPT_CUSTOMREQUEST, request.method)
        _ = tm_curl_set_long(curl, CURLOPT_NOBODY, request.method == "HEAD" ? 1 : 0)
        _ = tm_curl_set_long(curl, CURLOPT_HTTPGET, 1)
        var headers: UnsafeMutablePointer<curl_slist>?
        for line in request.headers { headers = curl_slist_append(headers, line) }
        if let range = request.range { headers = curl_slist_append(headers, "Range: bytes=\(range.lowerBound)-\(range.upperBound)") }
        headers = curl_slist_append(headers, "Expect:")
        defer { curl_slist_free_all(headers) }
        _ = tm_curl_set_pointer(curl, CURLOPT_HTTPHEADER, headers)
        let body = request.body ?? []
        let code: CURLcode = body.withUnsafeBufferPointer { bodyBytes in
            if request.body != nil {
                _ = tm_curl_set_long(curl, CURLOPT_POST, 1)
                _ = tm_curl_set_offset(curl, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bodyBytes.count))
                _ = tm_curl_set_pointer(curl, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: bodyBytes.baseAddress))
                _ = tm_curl_set_string(curl, CURLOPT_CUSTOMREQUEST, request.method)
            }
            if let upload = request.upload {
                _ = tm_curl_set_long(curl, CURLOPT_UPLOAD, 1)
                // Larger send chunks: fewer read callbacks and TLS records per megabyte of disk.
                _ = tm_curl_set_long(curl, CURLOPT_UPLOAD_BUFFERSIZE, 2 << 20)
                _ = tm_curl_set_offset(curl, CURLOPT_INFILESIZE_LARGE, curl_off_t(request.uploadSize))
                _ = tm_curl_set_read(
                    curl,
                    { data, size, count, context in
                        Unmanaged<UploadStream>.fromOpaque(context!).takeUnretainedValue().read(into: data!, count: size * count)
                    }, Unmanaged.passUnretained(upload).toOpaque())
                _ = tm_curl_set_string(curl, CURLOPT_CUSTOMREQUEST, request.method)
            }
            let context = Unmanaged.passUnretained(sink).toOpaque()
            _ = tm_curl_set_write(
                curl,
                { data, size, count, context in
                    Unmanaged<ResponseSink>.fromOpaque(context!).takeUnretainedValue().receive(data!, size * count)
                }, context)
            _ = tm_curl_set_header_callback(
                curl,
                { data, size, count, context in
                    Unmanaged<ResponseSink>.fromOpaque(context!).takeUnretainedValue().header(data!, size * count)
                }, context)
            defer { withExtendedLifetime((sink, request.upload)) {} }
            return curl_easy_perform(curl)
        }
        _ = tm_curl_set_pointer(curl, CURLOPT_POSTFIELDS, nil)
        _ = tm_curl_set_long(curl, CURLOPT_POST, 0)
        if request.upload != nil {
            _ = tm_curl_set_long(curl, CURLOPT_UPLOAD, 0)
            _ = tm_curl_set_offset(curl, CURLOPT_INFILESIZE_LARGE, -1)
            _ = tm_curl_set_long(curl, CURLOPT_UPLOAD_BUFFERSIZE, 64 * 1024)
            _ = tm_curl_set_read(curl, nil, nil)
        }
        guard code == CURLE_OK else { throw failure(code, url: url, sink: sink) }
        return HTTPResponse(status: tm_curl_response_code(curl), headers: sink.headers, body: sink.bytes, received: sink.filled)
    }

    private func failure(_ code: CURLcode, url: String, sink: ResponseSink) -> InfrastructureError {
        let detail = errorBuffer[0] != 0 ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(code))
        let server = Self.server(of: url)
        let seen = withUnsafeBytes(of: trust.pointee.seen) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let pinned = withUnsafeBytes(of: trust.pointee.pinned) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        switch code {
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE:
            if !pinned.isEmpty {
                return InfrastructureError(
                    .untrustedCertificate,
                    "\(server) presented a certificate with SHA-256 thumbprint \(seen), not the pinned \(pinned): if the certificate was replaced on purpose, update the pin with 'tidemark server update \(serverName) --thumbprint \(seen)'; otherwise something else answers at that address"
                )
            }
            return InfrastructureError(
                .untrustedCertificate,
                "\(server) presented a certificate that no trusted authority vouches for (\(detail)); its SHA-256 thumbprint is \(seen): if that is your vCenter's certificate, trust it with 'tidemark server update \(serverName) --thumbprint \(seen)'"
            )
        case CURLE_WRITE_ERROR where sink.overflow:
            return InfrastructureError(.diskUnreadable, "\(url) returned more bytes than the range asked for")
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_OPERATION_TIMEDOUT:
            return InfrastructureError(
                .unreachable, "cannot reach \(server): \(detail); check the address and port, and that vCenter is running")
        case CURLE_SSL_CONNECT_ERROR:
            return InfrastructureError(.unreachable, "TLS handshake with \(server) failed: \(detail); does it speak HTTPS on that port?")
        default:
            return InfrastructureError(.unreachable, "the exchange with \(server) failed: \(detail)")
        }
    }

    /// `https://host:port` of a URL, for messages.
    static func server(of url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        return String(url[..<scheme.upperBound]) + String(rest.prefix { $0 != "/" })
    }
}

/// Collects a response's headers and body: into a growing array, or into a caller's buffer.
private final class ResponseSink {
    var bytes: [UInt8] = []
    var headers: [(name: String, value: String)] = []
    let target: UnsafeMutableRawBufferPointer?
    var filled = 0
    var status = 0
    var overflow = false

    init(target: UnsafeMutableRawBufferPointer?) { self.target = target }

    func receive(_ data: UnsafeMutablePointer<CChar>, _ count: Int) -> Int {
        if let target, status == 200 || status == 206 {
            guard filled + count <= target.count else {
                overflow = true
                return 0
            }
            (target.baseAddress! + filled).copyMemory(from: data, byteCount: count)
            filled += count
        } else {
            data.withMemoryRebound(to: UInt8.self, capacity: count) {
                bytes.append(contentsOf: UnsafeBufferPointer(start: $0, count: count))
            }
        }
        return count
    }

    func header(_ data: UnsafeMutablePointer<CChar>, _ count: Int) -> Int {
        let line = data.withMemoryRebound(to: UInt8.self, capacity: count) {
            String(decoding: UnsafeBufferPointer(start: $0, count: count), as: UTF8.self)
        }
        if line.hasPrefix("HTTP/") {
            headers = []  // a new response (after a 100 Continue or a redirect)
            status = Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        } else if let colon = line.firstIndex(of: ":") {
            headers.append((line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        return count
    }
}
