import EventStore
import Foundation
import Hummingbird
import Postgres

/// `/healthz` (the process answers) and `/readyz` (the database answers and the projections
/// trail the log by less than a minute), open to anyone, as load balancers and Kubernetes
/// probes expect; they show no catalog data.
struct HealthRoutes {
    static let readyLagSeconds = 60.0

    let store: EventStore

    func add(to router: Router<APIContext>) {
        router.get("healthz") { _, _ in try JSONResponse.object(["status": "ok"]) }
        router.get("readyz", use: ready)
    }

    @Sendable func ready(_ request: Request, context: APIContext) async throws -> Response {
        do {
            let result = try await store.pool.query(
                "SELECT coalesce(max(events_behind), 0), coalesce(max(seconds_behind), 0)::double precision FROM reporting.projection_status"
            )
            let events: Int64 = try result.decode(0, 0)
            let seconds: Double = try result.decode(0, 1)
            let ready = seconds < Self.readyLagSeconds
            return try JSONResponse.object(
                [
                    "status": ready ? "ready" : "projections behind", "database": "ok", "projection_events_behind": events,
                    "projection_seconds_behind": (seconds * 10).rounded() / 10,
                ], status: ready ? .ok : .serviceUnavailable)
        } catch {
            return try JSONResponse.object(["status": "database unavailable", "database": "unavailable"], status: .serviceUnavailable)
        }
    }
}
