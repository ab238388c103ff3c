import Foundation
import Infrastructure
import Logging
import Synchronization

/// The vSphere Web Services (SOAP) API of one vCenter: the service content, a logged-in session
/// whose cookie every call carries, and a new login when vCenter says the session is gone.
public final class VSphereClient: Sendable {
    public let endpoint: VSphereEndpoint
    let transport: HTTPTransport
    let logger: Logger
    private let state = Mutex(State())
    private let relogin = SessionRenewal()
    /// Clean-ups left to run after a call returned (a container view destroyed, the tagging
    /// API's session ended); `disconnect` waits for them, so a process that exits after it
    /// has no exchange still running while libcurl and OpenSSL are torn down.
    private let background = Mutex<[UUID: Task<Void, Never>]>([:])
    /// The session cookie, for datastore file access in the same session.
    var sessionCookie: String? { state.withLock { $0.cookie } }
    /// SOAP round trips made, for the benchmark's figures.
    public var roundTrips: Int { state.withLock { $0.roundTrips } }

    struct State {
        var content: ServiceContent?
        var cookie: String?
        var generation = 0
        var roundTrips = 0
    }

    /// What `RetrieveServiceContent` gives: where the managers are and which API the server speaks.
    struct ServiceContent: Sendable {
        let rootFolder: ManagedObjectReference
        let propertyCollector: ManagedObjectReference
        let viewManager: ManagedObjectReference
        let sessionManager: ManagedObjectReference
        let apiVersion: String
        let apiType: String
        /// `about.fullName`: "VMware vCenter Server 7.0.3 build-...".
        let fullName: String
    }

    public init(endpoint: VSphereEndpoint, logger: Logger = Logger(label: "tidemark.vsphere")) {
        self.endpoint = endpoint
        self.transport = HTTPTransport(base: endpoint.url, pinnedThumbprint: endpoint.thumbprint, serverName: endpoint.name)
        var logger = logger
        logger[metadataKey: "vcenter"] = "\(endpoint.url)"
        self.logger = logger
    }

    /// Reads the service content and logs in; later calls log in again by themselves.
    public func connect() async throws(InfrastructureError) {
        _ = try await content()
        try await login(replacing: nil)
    }

    /// Runs `body` after the caller has moved on; `disconnect` waits for it.
    func inBackground(_ body: @escaping @Sendable () async -> Void) {
        let id = UUID()
        background.withLock { running in
            // The task removes itself under the same lock, so only after it was inserted.
            running[id] = Task { [self] in
                await body()
                _ = background.withLock { $0.removeValue(forKey: id) }
            }
        }
    }

    /// Ends the session on vCenter (sessions left open count against its limit), after the
    /// clean-ups still running.
    public func disconnect() async {
        for task in background.withLock({ Array($0.values) }) { await task.value }
        guard let content = try? await content(), state.withLock({ $0.cookie }) != nil else { return }
        _ = try? await send("Logout", this: content.sessionManager, "", renewing: false)
        state.withLock { $0.cookie = nil }
    }

    func content() async throws(InfrastructureError) -> ServiceContent {
        if let known = state.withLock({ $0.content }) { return known }
        let instance = ManagedObjectReference(type: "ServiceInstance", value: "ServiceInstance")
        let response = try await send("RetrieveServiceContent", this: instance, "", renewing: false)
        guard let value = response["returnval"],
            let root = ManagedObjectReference(value["rootFolder"]),
            let collector = ManagedObjectReference(value["propertyCollector"]),
            let views = ManagedObjectReference(value["viewManager"]),
            let sessions = ManagedObjectReference(value["sessionManager"])
        else {
            throw InfrastructureError(
                .io, "\(endpoint.url)/sdk answered RetrieveServiceContent without the managers a vCenter has: is it a vSphere server?")
        }
        let content = ServiceContent(
            rootFolder: root, propertyCollector: collector, viewManager: views, sessionManager: sessions,
            apiVersion: value.value("about", "apiVersion") ?? "6.5", apiType: value.value("about", "apiType") ?? "",
            fullName: value.value("about", "fullName") ?? "")
        state.withLock { $0.content = content }
        return content
    }

    /// Logs in unless another call already did since the session of `generation` failed.
    private func login(replacing generation: Int?) async throws(InfrastructureError) {
        try await relogin.run { () async throws(InfrastructureError) in
            if let generation, self.state.withLock({ $0.generation }) != generation { return }
            let content = try await self.content()
            let arguments =
                "<userName>\(xmlEscaped(self.endpoint.user))</userName><password>\(xmlEscaped(self.endpoint.password))</password>"
            let (response, headers) = try await self.exchange("Login", this: content.sessionManager, arguments)
            if let fault = SOAPFault(response) {
                if fault.name == "InvalidLogin" {
                    throw InfrastructureError(
                        .authenticationFailed,
                        "\(self.endpoint.url) refused the login of '\(self.endpoint.user)': wrong user name or password (check the password's environment variable or file)",
                        fault: fault.name)
                }
                throw fault.error(calling: "Login", at: self.endpoint.url)
            }
            guard let cookie = headers.lazy.compactMap(Self.sessionCookie).first else {
                throw InfrastructureError(.authenticationFailed, "\(self.endpoint.url) accepted the login but set no session cookie")
            }
            self.state.withLock {
                $0.cookie = cookie
                $0.generation += 1
            }
            self.logger.info("logged in to vCenter", metadata: ["user": "\(self.endpoint.user)"])
        }
    }

    /// `vmware_soap_session="..."` out of a Set-Cookie header.
    static func sessionCookie(_ header: String) -> String? {
        guard let pair = header.split(separator: ";").first, pair.hasPrefix("vmware_soap_session=") else { return nil }
        return String(pair)
    }

    /// Calls a method and returns its response element (`<MethodResponse>`); a fault is thrown,
    /// and an expired session (NotAuthenticated) is renewed once and the call repeated.
    func call(_ method: String, this: ManagedObjectReference, _ arguments: String) async throws(InfrastructureError) -> XMLElement {
        try await send(method, this: this, arguments, renewing: true)
    }

    private func send(
        _ method: String, this: ManagedObjectReference, _ arguments: String, renewing: Bool
    ) async throws(InfrastructureError)
        -> XMLElement
    {
        let generation = state.withLock { $0.generation }
        let (body, _) = try await exchange(method, this: this, arguments)
        guard let fault = SOAPFault(body) ?? SOAPFault(notAuthenticatedIn: body) else {
            guard let response = body["Body"]?.children.first else {
                throw InfrastructureError(.io, "\(endpoint.url) answered \(method) with an empty SOAP body")
            }
            return response
        }
        if renewing, fault.name == "NotAuthenticated" {
            logger.notice("vCenter session expired; logging in again", metadata: ["method": "\(method)"])
            try await login(replacing: generation)
            return try await send(method, this: this, arguments, renewing: false)
        }
        throw fault.error(calling: method, at: endpoint.url)
    }

    /// One SOAP exchange: the parsed envelope and the Set-Cookie headers.
    private func exchange(
        _ method: String, this: ManagedObjectReference, _ arguments: String
    ) async throws(InfrastructureError)
        -> (XMLElement, [String])
    {
        let envelope = """
            <?xml version="1.0" encoding="UTF-8"?>\
            <soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" \
            xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\
            <soapenv:Body><\(method) xmlns="urn:vim25">\(this.xml("_this"))\(arguments)</\(method)></soapenv:Body></soapenv:Envelope>
            """
        let (cookie, version) = state.withLock { ($0.cookie, $0.content?.apiVersion ?? "6.5") }
        var headers = ["Content-Type: text/xml; charset=utf-8", "SOAPAction: urn:vim25/\(version)"]
        if let cookie { headers.append("Cookie: \(cookie)") }
        let request = HTTPRequest(method: "POST", path: "/sdk", headers: headers, body: Array(envelope.utf8))
        let response = try await transport.perform(request)
        state.withLock { $0.roundTrips += 1 }
        guard response.status == 200 || response.status == 500 else {
            throw InfrastructureError(
                .io, "\(endpoint.url)/sdk answered \(method) with HTTP \(response.status): is this the address of a vCenter's SDK?")
        }
        do {
            return (try XMLTreeParser.parse(response.body), response.header("set-cookie"))
        } catch {
            throw InfrastructureError(.io, "\(endpoint.url) answered \(method) with \(error)")
        }
    }
}

/// Serialises logins: calls that meet an expired session together wait for one new login.
private actor SessionRenewal {
    private var running: Task<Void, any Error>?

    func run(_ body: @escaping @Sendable () async throws(InfrastructureError) -> Void) async throws(InfrastructureError) {
        if let running {
            _ = try? await running.value
        }
        let task = Task { try await body() }
        running = task
        do {
            try await task.value
        } catch let error as InfrastructureError {
            throw error
        } catch {
            throw InfrastructureError(.io, "logging in failed: \(error)")
        }
    }
}

/// A SOAP fault: vSphere's fault type (`InvalidLogin`, `ManagedObjectNotFound`, ...) and message.
struct SOAPFault: Sendable {
    let name: String
    let message: String

    init?(_ envelope: XMLElement) {
        guard let fault = envelope["Body"]?["Fault"] else { return nil }
        let detail = fault["detail"]?.children.first
        var name = detail?.type ?? detail?.name ?? "SOAPFault"
        if name.hasSuffix("Fault") && detail?.type == nil { name.removeLast(5) }
        self.name = name
        self.message = fault.value("faultstring") ?? ""
    }

    /// Some servers (the simulator among them) answer a retrieval in an expired session with
    /// each object's `missingSet` carrying NotAuthenticated instead of a fault: the same thing.
    init?(notAuthenticatedIn envelope: XMLElement) {
        guard let objects = envelope["Body"]?.children.first?["returnval"]?.all("objects"), !objects.isEmpty,
            objects.allSatisfy({ $0["missingSet"]?["fault"]?["fault"]?.type == "NotAuthenticated" })
        else { return nil }
        name = "NotAuthenticated"
        message = objects[0]["missingSet"]?["fault"]?.value("localizedMessage") ?? "the session is not authenticated"
    }

    func error(calling method: String, at server: String) -> InfrastructureError {
        let code: InfrastructureError.Code
        switch name {
        case "ManagedObjectNotFound": code = .unknownObject
        case "InvalidLogin", "NotAuthenticated", "NoPermission": code = .authenticationFailed
        default: code = .io
        }
        return InfrastructureError(code, "\(server) refused \(method): \(message.isEmpty ? name : message)", fault: name)
    }
}
