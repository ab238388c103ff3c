import BlockingIO
import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import Repository
import ServerTLS

/// What a request to the repository service carries: the client's address and, once its
/// signature is checked, the token prefix it was signed with.
public struct RepositoryRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let clientAddress: String
    public var actor = "unknown"
    /// The body, read once by ``SignedRequests`` (its signature covers it).
    public var body: [UInt8] = []

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }

    /// A manifest of a large disk is the largest body: 64 MiB holds a million blocks.
    public static let uploadLimit = 64 << 20
    public var maxUploadSize: Int { Self.uploadLimit }
}

/// `tidemark repository serve`: the repository service's HTTPS protocol (HTTP/1.1, signed
/// requests, see ``RequestSignature``), each route one call of ``HardenedRepository``:
///
///     POST   /v1/chunks/missing                      {"chunks": [names]} → {"missing": [names]}
///     PUT    /v1/chunks/{name}                       a chunk file → 201 (new) or 200 (held already)
///     GET    /v1/chunks/{name}                       the chunk file
///     PUT    /v1/restore-points/{id}/disks/{disk}    a disk manifest (JSON) → the point's record
///     GET    /v1/restore-points/{id}/disks/{disk}    the manifest
///     GET    /v1/restore-points                      {"items": [points with disks and immutable_until]}
///     POST   /v1/restore-points/{id}/verify          {"chunks": n, "problems": [...]}, every chunk re-hashed
///     DELETE /v1/restore-points/{id}                 204, or 403 while immutable
///     POST   /v1/garbage-collection                  what the service collected (it decides what)
///     GET    /v1/status                              {"immutable_days", "restore_points", "used_bytes", "quota_bytes",
///                                                     "disk_free_bytes", "disk_capacity_bytes"}
///
/// Errors are `{"error": code, "message": text}` with ``RepositoryServiceError/httpStatus``.
public enum RepositoryServer {
    public static func make(
        repository: HardenedRepository, host: String, port: Int, tls: TLSIdentity, logger: Logger,
        onListening: @escaping @Sendable (String) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let router = Router(context: RepositoryRequestContext.self)
        router.add(middleware: SignedRequests(repository: repository, logger: logger))
        Routes(repository: repository).add(to: router.group("v1"))
        return Application(
            router: router,
            server: try .tls(.http1(), tlsConfiguration: tls.configuration()),
            configuration: .init(address: .hostname(host, port: port), serverName: "tidemark-repository"),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? port
                await onListening("https://\(host.contains(":") ? "[\(host)]" : host):\(bound)")
            },
            logger: logger)
    }

    /// A refusal as the protocol answers it.
    static func problem(_ error: RepositoryServiceError) -> Response {
        let body = (try? JSONSerialization.data(withJSONObject: ["error": error.code.rawValue, "message": error.message])) ?? Data()
        return Response(
            status: .init(code: error.httpStatus), headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// Every request's signature, checked over its whole body before any route runs; refusals
/// are answered (and journaled) here.
struct SignedRequests: RouterMiddleware {
    typealias Context = RepositoryRequestContext
    let repository: HardenedRepository
    let logger: Logger

    func handle(
        _ request: Request, context: RepositoryRequestContext, next: (Request, RepositoryRequestContext) async throws -> Response
    ) async throws -> Response {
        var request = request
        let header = request.headers[.authorization]
        let method = request.method.rawValue
        let path = request.uri.description
        let client = context.clientAddress
        // A request no issued token signed is refused before its body is taken in.
        let limit = repository.isPlausible(header: header) ? Self.bodyLimit(method: method, path: request.uri.path) : 0
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: limit)
        } catch {
            guard limit > 0 else {
                // Refused as any unsigned request is (journaled, counted), without its body.
                let refusal: RepositoryServiceError
                do {
                    _ = try await BlockingIOPool.shared.run { () throws(RepositoryServiceError) -> String in
                        try repository.authenticate(header: header, method: method, path: path, body: [UInt8](), client: client)
                    }
                    refusal = RepositoryServiceError(.unauthorized, "the request is not signed with a token this service issued")
                } catch {
                    refusal = error
                }
                return RepositoryServer.problem(refusal)
            }
            return RepositoryServer.problem(RepositoryServiceError(.invalidInput, "the body is larger than \(limit) bytes"))
        }
        let bytes = Array(body.readableBytesView)
        do {
            let actor = try await BlockingIOPool.shared.run { () throws(RepositoryServiceError) -> String in
                try repository.authenticate(header: header, method: method, path: path, body: bytes, client: client)
            }
            var context = context
            context.actor = actor
            context.body = bytes
            return try await next(request, context)
        } catch let error as RepositoryServiceError {
            if error.code != .unauthorized { logger.error("request failed", metadata: ["path": "\(path)", "error": "\(error.message)"]) }
            return RepositoryServer.problem(error)
        }
    }
}

extension SignedRequests {
    /// The largest body each route takes: a manifest of a large disk (64 MiB, a million
    /// blocks), a chunk (the largest block, 8 MiB, and its header), a list of 100,000 names;
    /// nothing else has a body.
    static func bodyLimit(method: String, path: String) -> Int {
        switch (method, path) {
        case ("PUT", let path) where path.hasPrefix("/v1/restore-points/"): return RepositoryRequestContext.uploadLimit
        case ("PUT", let path) where path.hasPrefix("/v1/chunks/"): return 9 << 20
        case ("POST", "/v1/chunks/missing"): return 8 << 20
        default: return 64 << 10
        }
    }
}

/// The protocol's routes; each runs its repository call on the blocking pool.
struct Routes {
    let repository: HardenedRepository

    func add(to group: RouterGroup<RepositoryRequestContext>) {
        group.post("chunks/missing", use: missing)
        group.put("chunks/:name", use: putChunk)
        group.get("chunks/:name", use: chunk)
        group.put("restore-points/:id/disks/:disk", use: putManifest)
        group.get("restore-points/:id/disks/:disk", use: manifest)
        group.get("restore-points", use: points)
        group.post("restore-points/:id/verify", use: verify)
        group.delete("restore-points/:id", use: delete)
        group.post("garbage-collection", use: collect)
        group.get("status", use: status)
    }

    /// Runs `work` off the cooperative pool; its refusal becomes the protocol's answer.
    func answer(_ work: @escaping @Sendable () throws(RepositoryServiceError) -> Response) async -> Response {
        do {
            return try await BlockingIOPool.shared.run { () throws(RepositoryServiceError) -> Response in try work() }
        } catch {
            return RepositoryServer.problem(error)
        }
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws(RepositoryServiceError) -> Response {
        guard let data = try? RepositoryProtocol.encoder().encode(value) else {
            throw RepositoryServiceError(.io, "could not encode the answer")
        }
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func bytes(_ bytes: [UInt8], type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    @Sendable func missing(_ request: Request, context: RepositoryRequestContext) async throws -> Response {
        let body = context.body
        return await answer { () throws(RepositoryServiceError) -> Response in
            guard let names = try? JSONDecoder().decode(RepositoryProtocol.ChunkNames.self, from: Data(body)) else {
                throw RepositoryServiceError(.invalidInput, "the body is {\"chunks\": [chunk names]}")
            }
            guard names.chunks.count <= 100_000 else {
                throw RepositoryServiceError(.invalidInput, "ask about at most 100,000 chunks at a time, not \(names.chunks.count)")
            }
            return try Self.json(RepositoryProtocol.MissingChunks(missing: try repository.missing(names.chunks)))
        }
    }

    @Sendable func putChunk(_ request: Request, context: RepositoryRequestContext) async throws -> Response {
        let name = context.parameters.get("name") ?? ""
        let body = context.body
        let (actor, client) = (context.actor, context.clientAddress)
        return await answer { () throws(RepositoryServiceError) -> Response in
            let new = try repository.putChunk(name, file: body, actor: actor, client: client)
            return Response(status: new ? .created : .ok)
        }
    }

    @Sendable func chunk(_ request: Request, context: RepositoryRequestContext) async throws -> Response {
        let name = context.parameters.get("name") ?? ""
        return await answer { () throws(RepositoryServiceError) -> Response in
            Self.bytes(try repository.chunk(name), type: "application/octet-stream")
        }
    }

    @Sendable func putManifest(_ request: Request, context: RepositoryRequestContext) async throws -> Response {
        let (point, disk) = (context.parameters.get("id") ?? "", context.parameters.get("disk") ?? "")
        let body = context.body
        let (actor, client) = (context.actor, context.clientAddress)
        return await answer { () throws(RepositoryServiceError) -> Response in
            try Self.json(try repository.putManifest(point: point, disk: disk, body: body, actor: actor, client: client))
        }
    }

    @Sendable func manifest(_ request: Request, context: RepositoryRequestContext) async throws -> Response {
        let (point, disk) = (context.parameters.get("id") ?? "", context.parameters.get("disk") ?? "")
        return await answer { () throws(RepositoryServiceError) -> Response in
            try Self.json(try repository.manifest(point: point, disk: disk))
        }
    }

    @Sendable func points(_ request: Request, context: RepositoryRequestContext) async throws -> Response {
        await answer { () throws(RepositoryServiceError) -> Response in
            try Self.json(RepositoryProtocol.RestorePoints(items: try repository.points()))
        }
    }

    @Sendable func verify(_ request: Request, context: RepositoryRequestContext) async throws -> Response {
        let point = context.parameters.get("id") ?? ""
        let (actor, client) = (context.actor, context.clientAddress)
        return await answer { () throws(RepositoryServiceError) -> Response in
            let (chunks, bad) = try repository.verifyChunks(point: point, quarantining: (actor, client))
            return try Self.json(
                RepositoryProtocol.Verification(
                    chunks: chunks, problems: bad.map { "chunk \($0.chunk.hex) is \($0.problem)" },
                    chunkProblems: bad.map {
                        .init(chunk: $0.chunk.hex, problem: "\($0.problem)", missing: $0.problem == .missing, quarantined: $0.quarantined)
                    }))
        }
    }

    @Sendable func delete(_ request: Request, context: RepositoryRequestContext) async throws -> Response {
        let point = context.parameters.get("id") ?? ""
        let (actor, client) = (context.actor, context.clientAddress)
        return await answer { () throws(RepositoryServiceError) -> Response in
            try repository.deletePoint(point, actor: actor, client: client)
            return Response(status: .noContent)
        }
    }

    @Sendable func collect(_ request: Request, context: RepositoryRequestContext) async throws -> Response {
        let (actor, client) = (context.actor, context.clientAddress)
        return await answer { () throws(RepositoryServiceError) -> Response in
            let report = try repository.collectGarbage(actor: actor, client: client)
            return try Self.json(
                RepositoryProtocol.Collection(
                    referencedChunks: report.referencedChunks, deletedChunks: report.deletedChunks, freedBytes: report.freedBytes))
        }
    }

    @Sendable func status(_ request: Request, context: RepositoryRequestContext) async throws -> Response {
        await answer { () throws(RepositoryServiceError) -> Response in
            let disk = try? FileManager.default.attributesOfFileSystem(forPath: repository.root.path)
            return try Self.json(
                RepositoryProtocol.Status(
                    immutableDays: repository.immutableDays, restorePoints: try repository.points().count, usedBytes: repository.usedBytes,
                    quotaBytes: repository.quotaBytes, diskFreeBytes: (disk?[.systemFreeSize] as? NSNumber)?.int64Value,
                    diskCapacityBytes: (disk?[.systemSize] as? NSNumber)?.int64Value))
        }
    }
}
