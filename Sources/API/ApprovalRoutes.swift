import Catalog
import CatalogStore
import EventStore
import Foundation
import Hummingbird
import NIOCore

/// `/api/v1/approvals`: two-person approval's requests (`reporting.approvals`, newest first),
/// one request, and a second administrator's `approve` (the change is appended with it) or
/// anyone's `deny` who may decide (the requester may withdraw their own).
struct ApprovalRoutes {
    let store: EventStore
    let approvals: ApprovalStore

    static let list = ReportRoutes.NewestFirst(
        path: "approvals", noun: "approval request", view: "reporting.approvals", time: "requested_at", id: "approval_id",
        filters: [
            ReportRoutes.Filter(parameter: "state", column: "state", kind: .oneOf(["pending", "approved", "denied", "expired"]))
        ], permission: .readAudit)

    func add(to group: RouterGroup<APIContext>) {
        let reports = ReportRoutes(store: store)
        group.get("approvals") { request, context in
            _ = try context.require(.readAudit)
            return try await reports.page(request, Self.list)
        }
        group.get("approvals/:id") { _, context in
            _ = try context.require(.readAudit)
            return try await reports.one(try ReportRoutes.identifier(try context.parameters.require("id"), of: Self.list), Self.list)
        }
        group.post("approvals/:id/approve", use: approve)
        group.post("approvals/:id/deny", use: deny)
    }

    @Sendable func approve(_ request: Request, context: APIContext) async throws -> Response {
        let user = try context.require(.decideApprovals)
        let id = try ReportRoutes.identifier(try context.parameters.require("id"), of: Self.list)
        let metadata = APIRequest.metadata(context)
        let changes: [CatalogChange]
        do {
            changes = try await approvals.approve(id, by: metadata.actor ?? "api:\(user.name)", metadata: metadata)
        } catch let error as CatalogError {
            throw Self.problem(error)
        }
        return try JSONResponse.object([
            "approval_id": id, "state": "approved",
            "changes": changes.map { ["event_type": $0.eventType, "changed_fields": $0.changedFields] },
        ])
    }

    @Sendable func deny(_ request: Request, context: APIContext) async throws -> Response {
        let user = try context.require(.decideApprovals)
        let id = try ReportRoutes.identifier(try context.parameters.require("id"), of: Self.list)
        let reason = try APIRequest.query(request, "reason")
        let metadata = APIRequest.metadata(context)
        do {
            try await approvals.deny(id, by: metadata.actor ?? "api:\(user.name)", reason: reason, metadata: metadata)
        } catch let error as CatalogError {
            throw Self.problem(error)
        }
        return try JSONResponse.object(["approval_id": id, "state": "denied"])
    }

    /// A decision refused: unknown (404), the requester's own (403), decided or expired, or
    /// the object changed since (409).
    static func problem(_ error: CatalogError) -> APIProblem {
        switch error.code {
        case .notFound where error.message.hasPrefix("no approval request"): .notFound(error.message + ": see GET /api/v1/approvals")
        case .notPermitted: APIProblem(.forbidden, error.message)
        case .inUse, .staleVersion, .notFound: APIProblem(.conflict, error.message)
        default: APIProblem(error)
        }
    }

    /// 202: the change waits for a second administrator.
    static func pending(_ requested: Approval.Requested) throws -> Response {
        try JSONResponse.object(
            [
                "approval_id": requested.id, "state": "pending", "action": requested.action.summary,
                "expires_at": ISO8601DateFormatter().string(from: requested.expiresAt), "url": "/api/v1/approvals/\(requested.id)",
            ], status: .accepted, headers: [.location: "/api/v1/approvals/\(requested.id)"])
    }
}
