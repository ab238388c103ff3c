import EventStore
import Foundation
import Hummingbird
import Identity
import JobManager
import WorkflowEvents

/// `POST /api/v1/publishes`: instant access asked for over HTTP, served by this server's
/// process (``PublishHost``) with the same checks as `tidemark publish serve`; 201 once
/// clients may connect, with the NBD address. `POST /api/v1/publishes/{id}/stop` records the
/// stop and waits for the figures.
struct PublishRoutes {
    let store: EventStore
    let host: PublishHost
    let sessions: SessionRoutes
    /// `<data folder>/publish-overlays`: a writable publish's overlays, never in a repository.
    let overlayFolder: String

    func add(to group: RouterGroup<APIContext>) {
        group.post("publishes", use: publish)
        group.post("publishes/:id/stop", use: stop)
        group.get("publishes/:id/events") { request, context in
            _ = try context.require(.readSessions)
            let id = try APIRequest.sessionID(context)
            return try await sessions.events(
                request, stream: PublishEvent.stream(of: id), finishedBy: PublishEvent.Kind.stopped.rawValue,
                missing: "no publish has the id \(id): see GET /api/v1/publishes")
        }
    }

    /// `{"vm": "web-01", "point": "latest", "disk": "2000", "listen": "127.0.0.1:0",
    /// "writable": false, "keep_overlay": false, "reason": "..."}`; only `vm` is needed.
    @Sendable func publish(_ request: Request, context: APIContext) async throws -> Response {
        let user = try context.require(.restore)
        var request = request
        var fields = try await DefinitionBody.json(&request, context: context)
        let vm = try fields.requiredString("vm", "the VM whose restore point to serve, by name or id")
        let point = try RestoreRequestBody.point(&fields)
        let disk = try fields.string("disk")
        let listen = try fields.string("listen") ?? "127.0.0.1:0"
        guard !listen.hasPrefix("/") else {
            throw APIProblem.badRequest(
                "'listen' is HOST:PORT (port 0: any free one); a Unix socket is for 'tidemark publish serve' on the host")
        }
        // Unauthenticated NBD on other interfaces is an administrator's decision.
        if user.role != .administrator, !Self.isLoopback(listen) {
            throw APIProblem(
                .forbidden, "'listen' \(listen) is not a loopback address: only an administrator may serve a restore point beyond this host"
            )
        }
        let writable = try fields.bool("writable")
        let keepOverlay = try fields.bool("keep_overlay")
        let reason = try fields.string("reason")
        try fields.finish()
        if keepOverlay && !writable { throw APIProblem.badRequest("'keep_overlay' goes with 'writable': true") }
        let order = PublishOrder(
            vm: vm, point: point, disk: disk, listen: listen, reason: reason, writable: writable,
            overlayFolder: writable ? overlayFolder : nil, keepOverlay: keepOverlay)
        let scope = user.scope
        let name = user.name
        if let scope {
            // Before the publish opens anything, whose refusals would describe VMs outside the limit.
            try await ScopeCheck.points(vms: [vm], point: point, scope: scope, user: name, catalog: RestorePointCatalog(store: store))
        }
        let started: (publish: String, address: String)
        do {
            started = try await host.start(order, metadata: APIRequest.metadata(context)) { vmName, jobID in
                try ScopeCheck.admit(vmName: vmName, jobID: jobID, scope: scope, user: name)
            }
        } catch let error as RestoreError {
            throw APIProblem(error)
        }
        let url = "/api/v1/publishes/\(started.publish)"
        return try JSONResponse.object(
            [
                "publish_id": started.publish, "url": url, "address": started.address, "nbd_uri": "nbd://\(started.address)/disk-<key>",
                "events": "\(url)/events",
            ], status: .created, headers: [.location: url])
    }

    /// `127.0.0.1:PORT`, `[::1]:PORT` (the NBD server binds numeric addresses only).
    static func isLoopback(_ listen: String) -> Bool {
        guard let colon = listen.lastIndex(of: ":") else { return false }
        let host = listen[..<colon].trimmingCharacters(in: CharacterSet(charactersIn: "[]")).lowercased()
        return host == "::1" || host.hasPrefix("127.")
    }

    /// Stops a publish being served; `{"reason": "..."}` is optional.
    @Sendable func stop(_ request: Request, context: APIContext) async throws -> Response {
        let user = try context.require(.restore)
        let id = try APIRequest.sessionID(context)
        var request = request
        var reason: String?
        if DefinitionBody.mediaType(request) != nil {
            var fields = try await DefinitionBody.json(&request, context: context)
            reason = try fields.string("reason")
            try fields.finish()
        }
        let manager = host.manager
        guard let publish = try await manager.unstopped().first(where: { $0.publish == id }) else {
            throw APIProblem.notFound("no publish being served has the id \(id): see GET /api/v1/publishes?state=serving")
        }
        if let scope = user.scope {
            // The point served, from the log, as a publish's request is checked.
            try await ScopeCheck.points(
                vms: [publish.requested.vmId], point: .id(publish.requested.restorePointId), scope: scope, user: user.name,
                catalog: RestorePointCatalog(store: store))
        }
        let stopped: PublishEvent.Stopped?
        do {
            (_, stopped) = try await manager.stop(id, metadata: APIRequest.metadata(context), reason: reason)
        } catch let error as RestoreError {
            throw APIProblem(error)
        }
        var reply: [String: Any] = ["publish_id": id, "url": "/api/v1/publishes/\(id)", "stopped": stopped != nil]
        if let stopped {
            reply["clients"] = stopped.clients
            reply["bytes_read"] = stopped.bytesRead
            reply["bytes_written"] = stopped.bytesWritten
            reply["reason"] = stopped.reason
            reply["overlay_kept"] = stopped.overlayKept ?? NSNull()
        }
        return try JSONResponse.object(reply, status: stopped == nil ? .accepted : .ok)
    }
}
