import Infrastructure

extension VSphereClient {
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
