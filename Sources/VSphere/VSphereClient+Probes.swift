import Infrastructure

/// What a vCenter says it is, for `tidemark server check`.
public struct VSphereAbout: Sendable {
    /// The API version the server speaks (`8.0.1.0`); Tidemark sends its SOAP action with it.
    public let apiVersion: String
    /// `VirtualCenter` for a vCenter, `HostAgent` for an ESXi host.
    public let apiType: String
    /// The product and build (`VMware vCenter Server 8.0.1 build-21560480`).
    public let fullName: String
    /// The SHA-256 thumbprint of its certificate (64 hex digits); nil over plain HTTP.
    public let certificateThumbprint: String?
}

extension VSphereClient {
    /// The server's description and certificate, from the service content (read once).
    public func about() async throws(InfrastructureError) -> VSphereAbout {
        let content = try await content()
        return VSphereAbout(
            apiVersion: content.apiVersion, apiType: content.apiType, fullName: content.fullName,
            certificateThumbprint: transport.certificateThumbprint)
    }

    /// The names of every object of a type, paged like the inventory: the bare retrieval the
    /// benchmark compares enumeration with.
    public func names(of type: String) async throws(InfrastructureError) -> [String] {
        try await retrieveAll(types: [(type, ["name"])]).compactMap { $0.text("name") }
    }

    /// vCenter's clock: the smallest SOAP call, for a round trip's latency (and a liveness check).
    public func currentTime() async throws(InfrastructureError) -> String {
        let response = try await call("CurrentTime", this: ManagedObjectReference(type: "ServiceInstance", value: "ServiceInstance"), "")
        return response.value("returnval") ?? ""
    }
}
