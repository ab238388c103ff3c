import Foundation
import Postgres

/// Task slots of repositories and proxies, and session ownership, as claims in
/// `tidemark.slot_claims` made on one connection of the Job Manager's own.
///
/// Counted across every session of every server sharing the database. A claim lasts while
/// the server process of the connection that made it lives, so a crash (the connection drops,
/// the process ends) never leaves a slot taken. Only the service role can claim: advisory
/// locks, used before, could be held for ever by any login, a reader included (migration
/// 0009). A slot is `(class of the object, slot number)`; the class is a stable 32-bit hash of
/// the object's kind and id.
public actor TaskSlots {
    let connection: PostgresConnection
    /// Slots this session holds: the session's own tasks must not take one twice (the
    /// claim of a live holder is refused, but the holder is this very connection).
    private var held = Set<SlotKey>()

    struct SlotKey: Hashable {
        let lockClass: Int32
        let slot: Int32
    }

    public init(settings: PostgresConnectionSettings) async throws {
        connection = try await PostgresConnection.connect(settings)
    }

    public enum Owner: String, Sendable {
        case repository
        case proxy
        case session
        /// A session under a throttling rule (one slot per session, to count them).
        case throttle
    }

    /// The claims class of an owner's slots in `tidemark.slot_claims` (also how `/metrics` counts them).
    public static func lockClass(_ owner: Owner, _ id: String) -> Int32 {
        // FNV-1a, 32 bits: stable across processes and builds (unlike Hasher).
        var hash: UInt32 = 2_166_136_261
        for byte in "\(owner.rawValue):\(id)".utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 16_777_619
        }
        return Int32(bitPattern: hash)
    }

    /// Takes the session; false when another process holds it.
    public func own(session: String) async throws -> Bool {
        try await tryLock(Self.lockClass(.session, session), 0)
    }

    /// A free slot of the object among its `limit`, or nil when all are taken: one round trip,
    /// the lowest free number.
    public func take(_ owner: Owner, _ id: String, limit: Int) async throws -> Int? {
        let lockClass = Self.lockClass(owner, id)
        let mine = held.filter { $0.lockClass == lockClass }.map(\.slot)
        let result = try await connection.query(
            "SELECT tidemark.claim_free_slot($1, $2, $3)", [lockClass, Int32(clamping: max(0, limit)), mine])
        guard let slot = try result.decodeIfPresent(0, 0, as: Int32.self) else { return nil }
        held.insert(SlotKey(lockClass: lockClass, slot: slot))
        return Int(slot)
    }

    public func give(_ owner: Owner, _ id: String, slot: Int) async throws {
        try await give([(owner, id, slot)])
    }

    /// Frees several slots in one round trip (those this connection holds).
    public func give(_ slots: [(owner: Owner, id: String, slot: Int)]) async throws {
        let keys = slots.map { SlotKey(lockClass: Self.lockClass($0.owner, $0.id), slot: Int32($0.slot)) }.filter { held.remove($0) != nil }
        guard !keys.isEmpty else { return }
        _ = try await connection.query("SELECT tidemark.release_slots($1, $2)", [keys.map(\.lockClass), keys.map(\.slot)])
    }

    /// Slots of the object taken right now, by any session.
    public func inUse(_ owner: Owner, _ id: String) async throws -> Int {
        try await inUse(owner, [id])[id] ?? 0
    }

    /// Slots taken right now of each object, by any session, in one round trip.
    public func inUse(_ owner: Owner, _ ids: [String]) async throws -> [String: Int] {
        guard !ids.isEmpty else { return [:] }
        let classes = ids.map { Self.lockClass(owner, $0) }
        let result = try await connection.query("SELECT lock_class, in_use FROM tidemark.slots_in_use_of($1)", [classes])
        var counts: [Int32: Int] = [:]
        for row in 0..<result.rowCount {
            counts[try result.decode(row, 0, as: Int32.self)] = Int(try result.decode(row, 1, as: Int32.self))
        }
        return Dictionary(zip(ids, classes.map { counts[$0] ?? 0 }), uniquingKeysWith: { first, _ in first })
    }

    public func close() async {
        await connection.close()
    }

    private func tryLock(_ lockClass: Int32, _ slot: Int32) async throws -> Bool {
        try await connection.query("SELECT tidemark.claim_slot($1, $2)", [lockClass, slot]).decode(0, 0)
    }
}

/// Closed with `withClosing`, after a throw too: its connection holds the claims.
extension TaskSlots: AsyncClosable {}
