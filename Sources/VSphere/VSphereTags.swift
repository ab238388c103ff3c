import Foundation
import Infrastructure

/// Tags and which VMs carry them, from the vSphere Automation API (`/rest/com/vmware/cis/...`).
struct TagAssignments: Sendable {
    var tags: [Inventory.Tag] = []
    /// Tag ids per object id (`vm-42`).
    var byObject: [String: [String]] = [:]
}

extension VSphereClient {
    /// Reads tags through the vSphere Automation REST API with its own session (basic auth
    /// once, then its cookie). A server without that API (an ESXi host) has no tags: none.
    func tagsAndAssignments() async throws(InfrastructureError) -> TagAssignments {
        let credentials = Data("\(endpoint.user):\(endpoint.password)".utf8).base64EncodedString()
        let login = try await transport.perform(
            HTTPRequest(method: "POST", path: "/rest/com/vmware/cis/session", headers: ["Authorization: Basic \(credentials)"], body: []))
        if login.status == 404 { return TagAssignments() }
        guard login.status == 200, let session = (try? json(login.body))?["value"] as? String else {
            throw InfrastructureError(
                login.status == 401 ? .authenticationFailed : .io,
                "\(endpoint.url) refused the login to its tagging API (HTTP \(login.status)) for '\(endpoint.user)'")
        }
        let header = "vmware-api-session-id: \(session)"
        defer {
            inBackground { [transport] in
                _ = try? await transport.perform(HTTPRequest(method: "DELETE", path: "/rest/com/vmware/cis/session", headers: [header]))
            }
        }

        func get(_ path: String) async throws(InfrastructureError) -> Any? {
            let response = try await transport.perform(HTTPRequest(path: path, headers: [header]))
            guard response.status == 200 else {
                throw InfrastructureError(.io, "\(endpoint.url) answered GET \(path) with HTTP \(response.status)")
            }
            return (try? json(response.body))?["value"]
        }
        var result = TagAssignments()
        let ids = try await get("/rest/com/vmware/cis/tagging/tag") as? [String] ?? []
        guard !ids.isEmpty else { return result }
        var categories: [String: String] = [:]
        for id in ids {
            guard let tag = try await get("/rest/com/vmware/cis/tagging/tag/id:\(id)") as? [String: Any], let name = tag["name"] as? String
            else { continue }
            let categoryID = tag["category_id"] as? String ?? ""
            if categories[categoryID] == nil {
                let category = try await get("/rest/com/vmware/cis/tagging/category/id:\(categoryID)") as? [String: Any]
                categories[categoryID] = category?["name"] as? String ?? categoryID
            }
            result.tags.append(Inventory.Tag(id: id, name: name, category: categories[categoryID] ?? categoryID))
        }
        // One request for every tag's objects.
        let body = try? JSONSerialization.data(withJSONObject: ["tag_ids": ids])
        let attached = try await transport.perform(
            HTTPRequest(
                method: "POST", path: "/rest/com/vmware/cis/tagging/tag-association?~action=list-attached-objects-on-tags",
                headers: [header, "Content-Type: application/json"], body: Array(body ?? Data())))
        guard attached.status == 200, let lists = (try? json(attached.body))?["value"] as? [[String: Any]] else {
            throw InfrastructureError(.io, "\(endpoint.url) answered the tag association query with HTTP \(attached.status)")
        }
        for list in lists {
            guard let tag = list["tag_id"] as? String else { continue }
            for object in list["object_ids"] as? [[String: Any]] ?? [] where object["type"] as? String == "VirtualMachine" {
                if let id = object["id"] as? String { result.byObject[id, default: []].append(tag) }
            }
        }
        result.tags.sort { ($0.category, $0.name) < ($1.category, $1.name) }
        return result
    }

    private func json(_ bytes: [UInt8]) throws -> [String: Any]? {
        try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
    }
}
