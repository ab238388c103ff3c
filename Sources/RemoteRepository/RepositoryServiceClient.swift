import BlockingIO
import CCurl
import CodedErrors
import Foundation
import Repository
import RepositoryService
import Synchronization

/// Why a call to a repository service failed: its certificate is not the pinned one, it
/// cannot be reached, or it refused (with its status and reason).
public struct RemoteRepositoryError: CodedError, Equatable {
    public enum Code: String, Sendable {
        case untrustedCertificate = "untrusted certificate"
        case unreachable
        case refused
    }

    public let code: Code
    public let message: String
    /// The service's status for a refusal (401, 403, 404, 409, 422...); 0 otherwise.
    public let status: Int

    public init(_ code: Code, _ message: String, status: Int = 0) {
        self.code = code
        self.message = message
        self.status = status
    }

    public var codeName: String { code.rawValue }
}

/// The backup server's side of the repository service's protocol (`RepositoryServer`): each
/// call one signed HTTPS request through libcurl, the service's certificate trusted by its
/// pinned SHA-256 thumbprint only. Calls block; the async forms run them on the blocking pool.
public final class RepositoryServiceClient: @unchecked Sendable {
    public let url: String
    private let token: String
    private let trust: UnsafeMutablePointer<tm_tls_trust>
    private let curl: UnsafeMutableRawPointer
    private let lock = Mutex(())
    private static let globalInit: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    /// `thumbprint`: the service's certificate's SHA-256, as `tidemark repository serve` prints
    /// it (pairs joined by `:`) or as 64 hex digits. `stallTimeout`: seconds without a byte
    /// after which an exchange is given up (a link that went down mid-request).
    public init(
        url: String, token: String, thumbprint: String, connectTimeout: Int = 10, stallTimeout: Int = 60
    ) throws(RemoteRepositoryError) {
        let pin = thumbprint.replacingOccurrences(of: ":", with: "").uppercased()
        guard pin.utf8.count == 64, pin.allSatisfy(\.isHexDigit) else {
            throw RemoteRepositoryError(
                .untrustedCertificate, "'\(thumbprint)' is not a SHA-256 thumbprint (64 hex digits, pairs may be joined by ':')")
        }
        guard ServiceTokens.prefix(of: token) != nil else {
            throw RemoteRepositoryError(.refused, "the token is not one a repository service issues (tmr_ and 64 hex digits)")
        }
        _ = Self.globalInit
        self.url = url.hasSuffix("/") ? String(url.dropLast()) : url
        self.token = token
        curl = curl_easy_init()!
        trust = .allocate(capacity: 1)
        trust.initialize(to: tm_tls_trust())
        withUnsafeMutableBytes(of: &trust.pointee.pinned) { raw in
            raw.copyBytes(from: Array(pin.utf8))
            raw[64] = 0
        }
        _ = tm_curl_set_trust(curl, trust)
        _ = tm_curl_set_long(curl, CURLOPT_NOSIGNAL, 1)
        _ = tm_curl_set_long(curl, CURLOPT_CONNECTTIMEOUT, connectTimeout)
        _ = tm_curl_set_long(curl, CURLOPT_LOW_SPEED_LIMIT, 1)
        _ = tm_curl_set_long(curl, CURLOPT_LOW_SPEED_TIME, stallTimeout)
    }

    deinit {
        curl_easy_cleanup(curl)
        trust.deallocate()
    }

    /// A signed exchange: the status and the body, or the service's refusal as an error.
    func exchange(_ method: String, _ path: String, body: [UInt8] = []) throws(RemoteRepositoryError) -> [UInt8] {
        try lock.withLock { _ throws(RemoteRepositoryError) -> [UInt8] in
            let header = RequestSignature.header(token: token, method: method, path: path, body: body)
            var headers: UnsafeMutablePointer<curl_slist>?
            headers = curl_slist_append(headers, "Authorization: \(header)")
            headers = curl_slist_append(headers, "Content-Type: application/octet-stream")
            headers = curl_slist_append(headers, "Expect:")
            defer { curl_slist_free_all(headers) }
            let sink = Sink()
            _ = tm_curl_set_string(curl, CURLOPT_URL, url + path)
            _ = tm_curl_set_pointer(curl, CURLOPT_HTTPHEADER, headers)
            let code: CURLcode = body.withUnsafeBufferPointer { bytes in
                _ = tm_curl_set_long(curl, CURLOPT_HTTPGET, 1)
                if !bytes.isEmpty {
                    _ = tm_curl_set_long(curl, CURLOPT_POST, 1)
                    _ = tm_curl_set_offset(curl, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count))
                    _ = tm_curl_set_pointer(curl, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress))
                }
                _ = tm_curl_set_string(curl, CURLOPT_CUSTOMREQUEST, method)
                _ = tm_curl_set_write(
                    curl,
                    { data, size, count, context in
                        Unmanaged<Sink>.fromOpaque(context!).takeUnretainedValue().bytes.append(
                            contentsOf: UnsafeRawBufferPointer(start: data, count: size * count))
                        return size * count
                    }, Unmanaged.passUnretained(sink).toOpaque())
                defer { withExtendedLifetime(sink) {} }
                return curl_easy_perform(curl)
            }
            _ = tm_curl_set_pointer(curl, CURLOPT_POSTFIELDS, nil)
            _ = tm_curl_set_long(curl, CURLOPT_POST, 0)
            guard code == CURLE_OK else { throw failure(code) }
            let status = tm_curl_response_code(curl)
            guard (200..<300).contains(status) else {
                let answer = (try? JSONSerialization.jsonObject(with: Data(sink.bytes))) as? [String: Any]
                let reason = answer?["message"] as? String ?? String(decoding: sink.bytes.prefix(300), as: UTF8.self)
                throw RemoteRepositoryError(
                    .refused, "the repository service at \(url) refused \(method) \(path) (\(status)): \(reason)", status: status)
            }
            return sink.bytes
        }
    }

    private final class Sink { var bytes: [UInt8] = [] }

    private func failure(_ code: CURLcode) -> RemoteRepositoryError {
        let detail = String(cString: curl_easy_strerror(code))
        let seen = withUnsafeBytes(of: trust.pointee.seen) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        switch code {
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE:
            return RemoteRepositoryError(
                .untrustedCertificate,
                "the repository service at \(url) presented a certificate with SHA-256 thumbprint \(seen), not the pinned one: if the service's certificate was replaced on purpose, pin the new thumbprint; otherwise something else answers at that address"
            )
        default:
            return RemoteRepositoryError(
                .unreachable,
                "cannot reach the repository service at \(url): \(detail); check the address, the link and that the service runs")
        }
    }

    // MARK: the protocol

    static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], what: String) throws(RemoteRepositoryError) -> T {
        guard let value = try? RepositoryProtocol.decoder().decode(type, from: Data(bytes)) else {
            throw RemoteRepositoryError(.refused, "the repository service's answer to \(what) does not read")
        }
        return value
    }

    public func status() throws(RemoteRepositoryError) -> RepositoryProtocol.Status {
        try Self.decode(RepositoryProtocol.Status.self, try exchange("GET", "/v1/status"), what: "status")
    }

    /// The chunks of `names` the service does not hold, asked 50,000 at a time.
    public func missing(_ names: [ChunkID]) throws(RemoteRepositoryError) -> [ChunkID] {
        var missing: [ChunkID] = []
        var start = 0
        while start < names.count {
            let batch = names[start..<min(names.count, start + 50_000)]
            guard let body = try? RepositoryProtocol.encoder().encode(RepositoryProtocol.ChunkNames(chunks: batch.map(\.hex))) else {
                throw RemoteRepositoryError(.refused, "could not encode the chunk names")
            }
            let answer = try exchange("POST", "/v1/chunks/missing", body: Array(body))
            missing += try Self.decode(RepositoryProtocol.MissingChunks.self, answer, what: "missing chunks").missing.compactMap(
                ChunkID.init(hex:))
            start += batch.count
        }
        return missing
    }

    /// Sends a chunk file as a repository keeps it.
    public func putChunk(_ id: ChunkID, file: [UInt8]) throws(RemoteRepositoryError) {
        _ = try exchange("PUT", "/v1/chunks/\(id.hex)", body: file)
    }

    public func chunk(_ id: ChunkID) throws(RemoteRepositoryError) -> [UInt8] {
        try exchange("GET", "/v1/chunks/\(id.hex)")
    }

    /// Sends a disk's manifest; the service answers with when its point stops being immutable.
    public func putManifest(_ manifest: DiskManifest) throws(RemoteRepositoryError) -> PointRecord {
        guard let body = try? RepositoryProtocol.encoder().encode(manifest) else {
            throw RemoteRepositoryError(.refused, "could not encode the manifest")
        }
        return try Self.decode(
            PointRecord.self, try exchange("PUT", "/v1/restore-points/\(manifest.restorePoint)/disks/\(manifest.disk)", body: Array(body)),
            what: "a manifest")
    }

    /// A disk's manifest as the service holds it.
    public func manifest(point: String, disk: String) throws(RemoteRepositoryError) -> DiskManifest {
        try Self.decode(DiskManifest.self, try exchange("GET", "/v1/restore-points/\(point)/disks/\(disk)"), what: "a manifest")
    }

    /// Asks the service to collect garbage; it decides what goes (never what an immutable
    /// point names, nor a chunk too young to be named yet).
    public func collectGarbage() throws(RemoteRepositoryError) -> RepositoryProtocol.Collection {
        try Self.decode(RepositoryProtocol.Collection.self, try exchange("POST", "/v1/garbage-collection"), what: "a collection")
    }

    public func points() throws(RemoteRepositoryError) -> [HardenedRepository.Point] {
        try Self.decode(RepositoryProtocol.RestorePoints.self, try exchange("GET", "/v1/restore-points"), what: "the restore points").items
    }

    public func verify(point: String) throws(RemoteRepositoryError) -> RepositoryProtocol.Verification {
        try Self.decode(
            RepositoryProtocol.Verification.self, try exchange("POST", "/v1/restore-points/\(point)/verify"), what: "a verification")
    }

    public func deletePoint(_ point: String) throws(RemoteRepositoryError) {
        _ = try exchange("DELETE", "/v1/restore-points/\(point)")
    }

    /// Runs a call on the blocking pool (for callers on Swift's cooperative pool).
    public func run<Value: Sendable>(
        _ call: @escaping @Sendable (RepositoryServiceClient) throws(RemoteRepositoryError) -> Value
    ) async throws(RemoteRepositoryError) -> Value {
        try await BlockingIOPool.shared.run { () throws(RemoteRepositoryError) -> Value in try call(self) }
    }
}
