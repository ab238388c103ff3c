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

    static func lockClass(_ owner: Owner, _ id: String) -> Int32 {
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

    /// A free slot of the object among its `limit`, or nil when all are taken.
    public func take(_ owner: Owner, _ id: String, limit: Int) async throws -> Int? {
        let lockClass = Self.lockClass(owner, id)
        for slot in 0..<max(0, limit) {
            let key = SlotKey(lockClass: lockClass, slot: Int32(slot))
            guard !held.contains(key) else { continue }
            // Claimed before the round trip: a reentrant call must not pick the same slot.
            held.insert(key)
            if try await tryLock(lockClass, Int32(slot)) { return slot }
            held.remove(key)
        }
        return nil
    }

    public func give(_ owner: Owner, _ id: String, slot: Int) async throws {
        let key = SlotKey(lockClass: Self.lockClass(owner, id), slot: Int32(slot))
        guard held.remove(key) != nil else { return }
        _ = try await connection.query("SELECT tidemark.release_slot($1, $2)", [key.lockClass, key.slot])
    }

    /// Slots of the object taken right now, by any session.
    public func inUse(_ owner: Owner, _ id: String) async throws -> Int {
        let result = try await connection.query("SELECT tidemark.slots_in_use($1)", [Self.lockClass(owner, id)])
        return Int(try result.decode(0, 0, as: Int32.self))
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
