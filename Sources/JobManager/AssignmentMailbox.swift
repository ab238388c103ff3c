import EventStore
import Foundation
import Postgres
import WorkflowEvents

/// The Job Manager's side of `tidemark.proxy_assignments`: hands a task's order to a proxy
/// process under a fencing token, reads what the process reported, takes the task back.
struct AssignmentMailbox: Sendable {
    let pool: PostgresPool

    /// What the holder of a task reported last, and whether its process is still live.
    struct Report: Sendable {
        enum State: String, Sendable {
            case assigned, running, finished, failed, revoked, abandoned
        }

        let token: Int64
        let state: State
        let progress: TransferReport?
        let outcome: TransferReport?
        let message: String?
        let processLive: Bool
        /// `stopped` or `lost` once the process ended.
        let processEnd: String?
    }

    /// A fencing token larger than every earlier one, for any holder (embedded ones too).
    func nextToken() async throws -> Int64 {
        try await pool.query("SELECT tidemark.next_assignment_token()").decode(0, 0)
    }

    /// Gives the task to the process; false when the process is no longer live (or the task
    /// holds a larger token).
    func assign(_ order: TransferOrder, token: Int64, to instance: String, sealed: [UInt8]?) async throws -> Bool {
        let json = String(decoding: try SessionEvent.encoder().encode(order), as: UTF8.self)
        let result = try await pool.query(
            "SELECT tidemark.assign_task($1, $2, $3, $4::uuid, $5::jsonb, $6)",
            [order.sessionId, order.taskId, token, instance, json, sealed.map { Data($0) }])
        return try result.decode(0, 0)
    }

    func read(session: String, task: String) async throws -> Report? {
        let result = try await pool.query(
            """
            SELECT a.token, a.state, a.progress::text, a.outcome::text, a.message, tidemark.proxy_live(p), p.end_reason
              FROM tidemark.proxy_assignments a JOIN tidemark.proxy_processes p ON p.instance_id = a.instance_id
             WHERE a.session_id = $1 AND a.task_id = $2
            """, [session, task])
        guard result.rowCount == 1 else { return nil }
        func report(_ column: Int) throws -> TransferReport? {
            guard let text = try result.decodeIfPresent(0, column, as: String.self) else { return nil }
            return try? JSONDecoder().decode(TransferReport.self, from: Data(text.utf8))
        }
        let state: String = try result.decode(0, 1)
        return Report(
            token: try result.decode(0, 0), state: Report.State(rawValue: state) ?? .revoked, progress: try report(2),
            outcome: try report(3), message: try result.decodeIfPresent(0, 4), processLive: try result.decode(0, 5),
            processEnd: try result.decodeIfPresent(0, 6))
    }

    /// Sets the throttle share of the session's tasks under a rule that processes run (the
    /// rule's other tasks have none), and rings their processes, which set their buckets to
    /// the sum of their tasks' shares.
    func shareThrottle(session: String, rule: String, tasks: [String], bytesPerSecond: Int64) async throws {
        _ = try await pool.query(
            "SELECT tidemark.share_session_throttle($1, $2, $3, $4)", [session, rule, tasks, max(1, bytesPerSecond)])
    }

    /// Takes the task back: the holder's later reports are refused.
    func revoke(session: String, task: String, token: Int64) async throws {
        _ = try await pool.query("SELECT tidemark.revoke_assignment($1, $2, $3)", [session, task, token])
    }

    /// Removes the assignment once the session recorded its end.
    func close(session: String, task: String, token: Int64) async throws {
        _ = try await pool.query("SELECT tidemark.close_assignment($1, $2, $3)", [session, task, token])
    }

    /// Removes every assignment of a session that ended (one a crash left behind).
    func closeAll(session: String) async throws {
        _ = try await pool.query("SELECT tidemark.close_session_assignments($1)", [session])
        _ = try await pool.query("SELECT tidemark.end_session_throttles($1)", [session])
    }
}
