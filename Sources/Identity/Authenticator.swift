import Foundation

/// Who a presented API token belongs to, answered from a fold of the identity streams kept in
/// memory and refolded when the log's latest identity event moves (one cheap query per
/// request), so a revoked token stops working at the next request.
public actor Authenticator {
    public enum Outcome: Sendable, Equatable {
        /// `label`: the token's, which says how it was issued (a console sign-in's has an idle limit).
        case user(IdentityState.User, tokenPrefix: String, label: String?)
        /// Why, for the audit record; the client is told only 401.
        case refused(reason: String, tokenPrefix: String?)
    }

    let store: IdentityStore
    var cached: (state: IdentityState, position: Int64)?

    public init(store: IdentityStore) {
        self.store = store
    }

    public func authenticate(token presented: String, now: Date = Date()) async throws -> Outcome {
        guard let prefix = APIToken.prefix(of: presented) else { return .refused(reason: "not a Tidemark token", tokenPrefix: nil) }
        let state = try await current()
        guard let token = state.token(prefix: prefix), APIToken.same(token.sha256, APIToken.sha256(presented)) else {
            return .refused(reason: "unknown token", tokenPrefix: prefix)
        }
        if token.revoked { return .refused(reason: "revoked token", tokenPrefix: prefix) }
        if token.expiresAt <= now { return .refused(reason: "expired token", tokenPrefix: prefix) }
        guard let user = state.users[token.userID] else { return .refused(reason: "its user was removed", tokenPrefix: prefix) }
        return .user(user, tokenPrefix: prefix, label: token.label)
    }

    /// The identity fold, refolded only when an identity event was appended since.
    public func current() async throws -> IdentityState {
        let latest = try await store.latestPosition()
        if let cached, cached.position == latest { return cached.state }
        let loaded = try await store.load()
        cached = loaded
        return loaded.state
    }
}
