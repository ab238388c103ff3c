import CatalogStore
import EventStore
import Foundation
import Hummingbird
import HummingbirdTLS
import Identity
import JobManager
import Logging
import Metrics
import NIOCore
import Postgres
import Prometheus
import Secrets
import ServerTLS
import ServiceLifecycle

/// The HTTPS API of `tidemark server`: Hummingbird 2 over TLS, the routes under `/api/v1`
/// behind bearer tokens, health probes and the contract open. A ServiceLifecycle service, so
/// SIGTERM stops it with the server's other services.
public enum APIServer {
    /// Where it listens: `127.0.0.1:9419` by default; port 0 takes a free port (printed).
    public struct Address: Sendable, Equatable {
        public let host: String
        public let port: Int

        /// `HOST:PORT` (`[::1]:9419` for IPv6).
        public init(_ text: String) throws {
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else {
                throw APIServerError("'\(text)' is not an address to listen on: HOST:PORT, such as 127.0.0.1:9419 or 0.0.0.0:9419")
            }
            var host = String(text[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty else { throw APIServerError("'\(text)' names no host: 127.0.0.1:\(port) listens on loopback only") }
            self.host = host
            self.port = port
        }
    }

    /// Makes swift-metrics record into a Prometheus registry for this process (once, before
    /// anything records: `tidemark server` calls it first) and returns the registry `/metrics`
    /// writes out.
    public static func bootstrapMetrics() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
        ]
        MetricsSystem.bootstrap(factory)
        return registry
    }

    /// The service; `onListening` gets the URL it listens on once the socket is bound.
    /// `dataDirectory` holds what API requests write on this host: `restores/` (files a restore
    /// writes) and `publish-overlays/` (a writable publish's overlays).
    public static func make(
        store: EventStore, manager: JobManager, restores: RestoreManager, dataDirectory: String, address: Address, tls: TLSIdentity,
        refusalsPerMinute: Int = 10, credentials: CredentialStore? = nil,
        metrics: PrometheusCollectorRegistry, logger: Logger, onListening: @escaping @Sendable (String) async -> Void
    ) throws -> any Service {
        let router = Router(context: APIContext.self)
        router.middlewares.add(RequestLogging(logger: logger))
        HealthRoutes(store: store).add(to: router)
        try ConsoleRoutes.load().add(to: router)
        let contract = try OpenAPIDocument.json()
        let identity = IdentityStore(events: store, logger: logger)
        // TIDEMARK_REFUSAL_WINDOW_SECONDS: tests on a loaded machine, whose guesses can take longer than a minute.
        let window = ProcessInfo.processInfo.environment["TIDEMARK_REFUSAL_WINDOW_SECONDS"].flatMap(TimeInterval.init) ?? 60
        let access = try AccessRecorder(store: store, refusalsPerMinute: refusalsPerMinute, window: max(1, window), logger: logger)
        let authenticator = Authenticator(store: identity)
        let authentication = BearerAuthentication(
            authenticator: authenticator, access: access, idle: ConsoleIdleClock(), identity: identity, logger: logger)
        SignInRoutes(
            identity: identity, authenticator: authenticator, access: access, throttle: SignInThrottle(), credentials: credentials,
            logger: logger
        )
        .add(to: router)
        let api = router.group("api/v1").add(middleware: authentication)
        let catalogMetrics = CatalogMetrics(store: store)
        // Prometheus authenticates with a token too (`authorization` in its scrape config).
        router.group().add(middleware: authentication).get("metrics") { _, context in
            _ = try context.require(.readSessions)
            let text = try await catalogMetrics.text() + metrics.emitToString()
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        api.get("openapi.json") { _, _ in JSONResponse.text(contract) }
        // Ends the session the request came with: its token revoked (`TokenRevoked`, by its
        // user), the console's cookies cleared.
        api.post("sign-out") { _, context in
            guard context.user != nil, let prefix = context.tokenPrefix else { throw APIProblem.unauthorized }
            try await identity.execute(metadata: APIRequest.metadata(context)) { state throws(IdentityError) in
                try IdentityDecider.revokeToken(prefix: prefix, in: state)
            }
            var response = Response(status: .noContent)
            for cookie in ConsoleSession.cleared { response.setCookie(cookie) }
            return response
        }
        api.get("whoami") { _, context in
            let user = try context.require(.readSessions)
            return try JSONResponse.object([
                "name": user.name, "role": user.role.rawValue, "permissions": user.role.permissions.map(\.rawValue).sorted(),
                "token_prefix": context.tokenPrefix ?? "",
            ])
        }
        JobRoutes(store: store, manager: manager).add(to: api)
        let hub = SessionEventHub(store: store, logger: logger)
        let sessions = SessionRoutes(store: store, hub: hub)
        sessions.add(to: api)
        TimelineRoutes(store: store).add(to: api)
        RestoreRoutes(
            restores: restores, sessions: sessions,
            body: RestoreRequestBody(root: (dataDirectory as NSString).appendingPathComponent("restores"))
        ).add(to: api)
        let publishes = PublishHost(manager: PublishManager(store: store, settings: manager.settings, logger: logger))
        PublishRoutes(
            store: store, host: publishes, sessions: sessions,
            overlayFolder: (dataDirectory as NSString).appendingPathComponent("publish-overlays")
        ).add(to: api)
        EventFeedRoutes(store: store, hub: hub).add(to: api)
        let reports = ReportRoutes(store: store)
        reports.add(to: api)
        GuestFileRoutes(store: store).add(to: api)
        StatisticsRoutes(store: store, catalog: manager.catalog).add(to: api)
        DashboardRoutes(store: store).add(to: api)
        AuditRoutes(store: store).add(to: api)
        ApprovalRoutes(store: store, approvals: ApprovalStore(catalog: manager.catalog)).add(to: api)
        let catalogRoutes = CatalogRoutes(store: store, catalog: manager.catalog)
        catalogRoutes.add(to: api)
        ServerCheckRoutes(manager: manager, catalogRoutes: catalogRoutes, reports: reports).add(to: api)
        let host = HostChecks(secrets: manager.settings.secrets)
        DefinitionFieldRoutes<ServerFields>(routes: catalogRoutes, host: host).add(to: api)
        DefinitionFieldRoutes<RepositoryFields>(routes: catalogRoutes, host: host).add(to: api)
        DefinitionFieldRoutes<ProxyFields>(routes: catalogRoutes, host: host).add(to: api)
        DefinitionFieldRoutes<ThrottleFields>(routes: catalogRoutes, host: host).add(to: api)
        return Application(
            router: router,
            server: try .tls(.http1(), tlsConfiguration: tls.configuration()),
            configuration: .init(address: .hostname(address.host, port: address.port), serverName: "tidemark"),
            services: [SessionEventHubService(hub: hub), PublishHostService(host: publishes)],
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? address.port
                let host = address.host.contains(":") ? "[\(address.host)]" : address.host
                await onListening("https://\(host):\(port)")
            },
            logger: logger)
    }
}

/// Each request at debug level (`-vv`), with its route and status; refusals at info. An error
/// no route expected is logged whole (here, never in the reply) and answered with a problem
/// that says where to look: 503 when the database is unreachable, else 500.
struct RequestLogging: RouterMiddleware {
    typealias Context = APIContext
    let logger: Logger

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        var status = 500
        defer {
            // The route's pattern, not the path: a label per job name would grow without end.
            let route = context.endpointPath ?? "unmatched"
            Counter(
                label: "tidemark_api_requests_total",
                dimensions: [("route", route), ("method", request.method.rawValue), ("status", "\(status)")]
            ).increment()
            let elapsed = (ContinuousClock.now - started).components
            Metrics.Timer(label: "tidemark_api_request_duration_seconds", dimensions: [("route", route)])
                .recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
        }
        do {
            let response = try await next(request, context)
            status = response.status.code
            logger.debug(
                "api request",
                metadata: [
                    "method": "\(request.method)", "path": "\(request.uri.path)", "status": "\(response.status.code)",
                    "client": "\(context.clientAddress)",
                ])
            return response
        } catch let error as HTTPResponseError {
            status = error.status.code
            logger.info(
                "api request refused",
                metadata: [
                    "method": "\(request.method)", "path": "\(request.uri.path)", "status": "\(error.status.code)",
                    "client": "\(context.clientAddress)",
                ])
            throw error
        } catch {
            let unavailable = (error as? PostgresError).map { $0.kind == .connectionFailed || $0.isRetryable } ?? false
            status = unavailable ? 503 : 500
            logger.error(
                "api request failed",
                metadata: [
                    "method": "\(request.method)", "path": "\(request.uri.path)", "error": "\(error)", "client": "\(context.clientAddress)",
                ])
            throw APIProblem(
                unavailable ? .serviceUnavailable : .internalServerError,
                unavailable
                    ? "the catalog database is unreachable: try again shortly; the server's log says why"
                    : "the server met an error it did not expect; its log has the details")
        }
    }
}
