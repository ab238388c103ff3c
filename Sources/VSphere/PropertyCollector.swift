import Infrastructure

/// One object's properties as the PropertyCollector returned them.
struct ObjectContent: Sendable {
    let object: ManagedObjectReference
    let properties: [String: XMLElement]

    func text(_ property: String) -> String? { properties[property]?.text }
    func reference(_ property: String) -> ManagedObjectReference? { ManagedObjectReference(properties[property]) }
}

extension VSphereClient {
    /// Retrieves properties of every object of the given types below `root`, through a container
    /// view: one round trip per page of `pageSize` objects (`RetrievePropertiesEx`, then
    /// `ContinueRetrievePropertiesEx` with the token), never one per object.
    func retrieveAll(
        types: [(type: String, properties: [String])], below root: ManagedObjectReference? = nil, pageSize: Int = 2000
    ) async throws(InfrastructureError) -> [ObjectContent] {
        let content = try await content()
        let typeList = types.map { "<type>\($0.type)</type>" }.joined()
        let created = try await call(
            "CreateContainerView", this: content.viewManager,
            (root ?? content.rootFolder).xml("container") + typeList + "<recursive>true</recursive>")
        guard let view = ManagedObjectReference(created["returnval"]) else {
            throw InfrastructureError(.io, "\(endpoint.url) created a container view without naming it")
        }
        defer { inBackground { [self] in _ = try? await call("DestroyView", this: view, "") } }
        let propSets = types.map { entry in
            "<propSet><type>\(entry.type)</type>" + entry.properties.map { "<pathSet>\($0)</pathSet>" }.joined() + "</propSet>"
        }.joined()
        let spec =
            "<specSet>\(propSets)<objectSet>\(view.xml("obj"))<skip>true</skip>"
            + "<selectSet xsi:type=\"TraversalSpec\"><name>view</name><type>ContainerView</type><path>view</path><skip>false</skip></selectSet>"
            + "</objectSet></specSet><options><maxObjects>\(pageSize)</maxObjects></options>"
        var results: [ObjectContent] = []
        var response = try await call("RetrievePropertiesEx", this: content.propertyCollector, spec)
        while true {
            guard let page = response["returnval"] else { break }
            results += page.all("objects").compactMap(Self.objectContent)
            guard let token = page.value("token") else { break }
            response = try await call(
                "ContinueRetrievePropertiesEx", this: content.propertyCollector, "<token>\(xmlEscaped(token))</token>")
        }
        return results
    }

    /// Properties of one object; a missing object is `unknownObject`.
    func retrieve(_ object: ManagedObjectReference, properties: [String]) async throws(InfrastructureError) -> ObjectContent {
        let content = try await content()
        let spec =
            "<specSet><propSet><type>\(object.type)</type>" + properties.map { "<pathSet>\($0)</pathSet>" }.joined()
            + "</propSet><objectSet>\(object.xml("obj"))<skip>false</skip></objectSet></specSet><options></options>"
        let response = try await call("RetrievePropertiesEx", this: content.propertyCollector, spec)
        guard let found = response["returnval"]?.all("objects").compactMap(Self.objectContent).first else {
            throw InfrastructureError(
                .unknownObject, "\(endpoint.url) has no \(object.type) \(object.value)", fault: "ManagedObjectNotFound")
        }
        if let missing = found.properties.isEmpty ? response["returnval"]?["objects"]?["missingSet"] : nil,
            let fault = missing["fault"]?["fault"]?.type
        {
            throw InfrastructureError(.unknownObject, "\(endpoint.url) has no \(object.type) \(object.value)", fault: fault)
        }
        return found
    }

    static func objectContent(_ element: XMLElement) -> ObjectContent? {
        guard let object = ManagedObjectReference(element["obj"]) else { return nil }
        var properties: [String: XMLElement] = [:]
        for property in element.all("propSet") {
            if let name = property.value("name"), let value = property["val"] { properties[name] = value }
        }
        return ObjectContent(object: object, properties: properties)
    }
}
