import Foundation
import Postgres

/// A lease on a named role (the scheduler's leadership) in `tidemark.leases`: taken when free
/// or expired, renewed by heartbeat, each new holder with a larger fencing token. Only the
/// service role may take it (an advisory lock, used before, could be held by any login and
/// was never given up by a frozen process). Times are the database's clock.
public struct LeaderLease: Sendable {
    /// The scheduler's lease.
    public static let scheduler = "scheduler"

    public let name: String
    /// Who holds it: host, process and a random part (a restarted server is a new holder).
    public let holder: String
    /// How long a holder stays leader without renewing.
    public let seconds: Double

    public init(name: String, seconds: Double, holder: String = LeaderLease.defaultHolder()) {
        self.name = name
        self.seconds = seconds
        self.holder = holder
    }

    public static func defaultHolder() -> String {
        "\(ProcessInfo.processInfo.hostName):\(getpid()):\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// The new fencing token if the lease was free or expired; nil while another holds it.
    public func acquire(on connection: PostgresConnection) async throws -> Int64? {
        let result = try await connection.query("SELECT tidemark.acquire_lease($1, $2, $3)", [name, holder, seconds])
        return result.rowCount == 1 ? try result.decodeIfPresent(0, 0, as: Int64.self) : nil
    }

    /// Extends the lease; false once it expired: the holder must step down.
    public func renew(_ token: Int64, on connection: PostgresConnection) async throws -> Bool {
        try await connection.query("SELECT tidemark.renew_lease($1, $2, $3, $4)", [name, holder, token, seconds]).decode(0, 0)
    }

    /// Gives the lease up at once (a graceful shutdown), so a successor need not wait it out.
    public func release(_ token: Int64, on connection: PostgresConnection) async throws {
        _ = try await connection.query("SELECT tidemark.release_lease($1, $2, $3)", [name, holder, token])
    }
}

/// What appends made on a leader's behalf carry: the lease and the token it was granted.
/// `tidemark.check_lease`, called in the append's transaction, refuses a stale one.
public struct LeaseFence: Sendable {
    public let name: String
    public let token: Int64

    public init(name: String, token: Int64) {
        self.name = name
        self.token = token
    }

    /// Raises (SQLSTATE TM002) unless the lease is still held under this token.
    func check(on connection: isolated PostgresConnection) throws {
        _ = try connection.query("SELECT tidemark.check_lease($1, $2)", [name, token])
    }
}
