import EventStore
import Foundation
import Postgres
import WorkflowEvents

/// A proxy process's side of the database: its registration and heartbeat
/// (`tidemark.proxy_processes`), the tasks assigned to it and its reports
/// (`tidemark.proxy_assignments`). Every change goes through the migration's functions, which
/// hold the rules (one live process per proxy, reports only from a task's current holder).
struct ProxyMailbox: Sendable {
    let pool: PostgresPool

    /// What `proxy_register` needs to know of a process.
    struct Registration: Sendable {
        let instance: String
        let proxyID: String
        let proxyName: String
        let host: String
        let pid: Int
        let version: String
        let transportModes: [String]
        let reach: ProxyProcessEvent.Reach
        let maxTasks: Int
        let publicKey: [UInt8]
        let leaseSeconds: Double
        /// The host's identity key and its signature of the registration (`RegistrationProof`).
        let identityKey: [UInt8]
        let signature: [UInt8]
    }

    /// A task handed to this process.
    struct Assignment: Sendable {
        let session: String
        let task: String
        let token: Int64
        let order: TransferOrder
        let sealed: [UInt8]?
    }

    /// Registers; refused with `ProxyAgentError.alreadyRunning` while another process of the
    /// proxy is live.
    func register(_ registration: Registration) async throws {
        let reach = String(decoding: try SessionEvent.encoder().encode(registration.reach), as: UTF8.self)
        do {
            _ = try await pool.query(
                "SELECT tidemark.proxy_register($1::uuid, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12, $13)",
                [
                    registration.instance, registration.proxyID, registration.proxyName, registration.host, Int32(registration.pid),
                    registration.version, registration.transportModes, reach, Int32(registration.maxTasks), Data(registration.publicKey),
                    registration.leaseSeconds, Data(registration.identityKey), Data(registration.signature),
                ])
        } catch let error as PostgresError where error.code?.rawValue == "TM020" {
            throw ProxyAgentError(.alreadyRunning, "\(error.message): \(error.hint ?? "stop it first")")
        }
    }

    /// Sets what the live process reaches now; false when it is no longer live.
    func updateReach(instance: String, reach: ProxyProcessEvent.Reach) async throws -> Bool {
        let json = String(decoding: try SessionEvent.encoder().encode(reach), as: UTF8.self)
        return try await pool.query("SELECT tidemark.proxy_update_reach($1::uuid, $2::jsonb)", [instance, json]).decode(0, 0)
    }

    /// Ends the process as stopped; false when it had ended already (declared lost).
    func end(instance: String) async throws -> Bool {
        try await pool.query("SELECT tidemark.proxy_end($1::uuid, 'stopped')", [instance]).decode(0, 0)
    }

    /// The tasks waiting for this process, now marked running.
    func take(instance: String) async throws -> [Assignment] {
        let result = try await pool.query(
            "SELECT session_id, task_id, token, assignment::text, sealed_credentials FROM tidemark.take_assignments($1::uuid)", [instance])
        var taken: [Assignment] = []
        for row in 0..<result.rowCount {
            let session: String = try result.decode(row, 0), task: String = try result.decode(row, 1)
            let token: Int64 = try result.decode(row, 2)
            let text: String = try result.decode(row, 3)
            guard let order = try? SessionEvent.decoder().decode(TransferOrder.self, from: Data(text.utf8)) else {
                // An order this version cannot read (a Job Manager of another version): the
                // task fails with the reason rather than wait for a holder that never starts it.
                _ = try? await pool.query(
                    "SELECT tidemark.report_assignment($1, $2, $3, 'failed', NULL, NULL, $4)",
                    [session, task, token, "proxy process cannot read the task's order (another Tidemark version?)"])
                continue
            }
            taken.append(
                Assignment(
                    session: session, task: task, token: token, order: order,
                    sealed: try result.decodeIfPresent(row, 4, as: Data.self).map { [UInt8]($0) }))
        }
        return taken
    }

    /// Squares what the database says this process holds with what it runs, in one query
    /// per look: a task it runs that is no longer open there was taken back (returned, to be
    /// stopped); a task the database counts as running here that it does not run (taken by a
    /// look whose answer was lost) is handed back, so it moves at once. Also returns, per
    /// session, the sum of the throttle shares of the tasks it holds (the session's rate on
    /// this process; a session without one is not throttled here).
    func reconcile(
        instance: String, running: Set<String>
    ) async throws -> (revoked: Set<String>, handedBack: Int, rates: [String: Int64]) {
        let result = try await pool.query(
            "SELECT session_id, task_id, token, state, throttle_bytes_per_second FROM tidemark.open_assignments($1::uuid)", [instance])
        var open = Set<String>()
        var handedBack = 0
        var rates: [String: Int64] = [:]
        for row in 0..<result.rowCount {
            let session: String = try result.decode(row, 0), task: String = try result.decode(row, 1)
            let token: Int64 = try result.decode(row, 2)
            let key = RunningTasks.key(session, task, token)
            open.insert(key)
            if let share = try result.decodeIfPresent(row, 4, as: Int64.self) { rates[session, default: 0] += share }
            guard try result.decode(row, 3, as: String.self) == "running", !running.contains(key) else { continue }
            _ = try await pool.query(
                "SELECT tidemark.report_assignment($1, $2, $3, 'abandoned', NULL, NULL, $4)",
                [session, task, token, "the proxy process lost track of the task"])
            handedBack += 1
        }
        return (running.subtracting(open), handedBack, rates)
    }

    /// Reports progress (`running`) or the end; false when refused (the task moved on).
    func report(
        _ assignment: Assignment, state: String, progress: TransferReport? = nil, outcome: TransferReport? = nil, message: String? = nil
    ) async throws -> Bool {
        func json(_ report: TransferReport?) throws -> String? {
            try report.map { String(decoding: try SessionEvent.encoder().encode($0), as: UTF8.self) }
        }
        return try await pool.query(
            "SELECT tidemark.report_assignment($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7)",
            [assignment.session, assignment.task, assignment.token, state, try json(progress), try json(outcome), message]
        ).decode(0, 0)
    }
}
