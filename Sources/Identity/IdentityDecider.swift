import Catalog
import Foundation

/// Identity commands decided on the current state: the events to append, or why not. Pure:
/// `IdentityStore.execute` runs a decision under the catalog lock.
public enum IdentityDecider {
    /// User names: 1–64 of a–z, 0–9, `.`, `_`, `@`, `-`, starting with a letter or digit. They
    /// appear in every event's actor (`api:NAME`), so nothing there needs escaping.
    public static func validateName(_ name: String) throws(IdentityError) {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789._@-")
        guard (1...64).contains(name.count), name.allSatisfy({ allowed.contains($0) }),
            name.first.map({ $0.isLetter || $0.isNumber }) == true
        else {
            throw IdentityError(
                .invalid,
                "'\(EscapedText.escaped(name))' is not a user name: 1 to 64 of a-z, 0-9, '.', '_', '@', '-', starting with a letter or digit"
            )
        }
    }

    public static func addUser(
        _ name: String, role: Role, scope: RestoreScope? = nil, id: String, in state: IdentityState
    ) throws(IdentityError) -> [IdentityChange] {
        try validateName(name)
        try RestoreScope.validate(scope, role: role)
        if state.user(named: name) != nil {
            throw IdentityError(.duplicate, "a user named '\(name)' exists: see 'tidemark user list'")
        }
        return [
            IdentityChange(
                stream: IdentityEvent.userStream(id), expectedVersion: 0,
                IdentityEvent.UserAdded(id: id, name: name, role: role, scope: scope))
        ]
    }

    /// A new role, or the same with another limit (`scope`, a restore operator's only).
    public static func grant(
        _ role: Role, scope: RestoreScope? = nil, to name: String, in state: IdentityState
    ) throws(IdentityError) -> [IdentityChange] {
        let user = try require(name, in: state)
        try RestoreScope.validate(scope, role: role)
        guard user.role != role || user.scope != scope else { return [] }
        if user.role == .administrator && role != .administrator && state.administrators.count == 1 {
            throw IdentityError(
                .lastAdministrator, "'\(name)' is the only administrator: make another user administrator first")
        }
        return [
            IdentityChange(
                stream: IdentityEvent.userStream(user.id), expectedVersion: user.version,
                IdentityEvent.RoleGranted(id: user.id, role: role, previous: user.role, scope: scope))
        ]
    }

    /// Removes a user and, with it, the use of every token it holds.
    public static func removeUser(_ name: String, in state: IdentityState) throws(IdentityError) -> [IdentityChange] {
        let user = try require(name, in: state)
        if user.role == .administrator && state.administrators.count == 1 {
            throw IdentityError(.lastAdministrator, "'\(name)' is the only administrator: add another administrator first")
        }
        return [
            IdentityChange(
                stream: IdentityEvent.userStream(user.id), expectedVersion: user.version,
                IdentityEvent.UserRemoved(id: user.id, name: user.name))
        ]
    }

    /// A password's hash for `name` (hashed by the caller, off the cooperative pool).
    public static func setPassword(hash: String, for name: String, in state: IdentityState) throws(IdentityError) -> [IdentityChange] {
        let user = try require(name, in: state)
        guard hash.hasPrefix("$2") else { throw IdentityError(.invalid, "a password hash is bcrypt's") }
        return [
            IdentityChange(
                stream: IdentityEvent.userStream(user.id), expectedVersion: user.version,
                IdentityEvent.PasswordSet(id: user.id, passwordHash: hash))
        ]
    }

    /// Asks (or, with nil, stops asking) `name` for a TOTP code after the password.
    public static func setSecondFactor(
        credential: String?, for name: String, in state: IdentityState
    ) throws(IdentityError)
        -> [IdentityChange]
    {
        let user = try require(name, in: state)
        guard user.secondFactor != credential else { return [] }
        return [
            IdentityChange(
                stream: IdentityEvent.userStream(user.id), expectedVersion: user.version,
                IdentityEvent.SecondFactorSet(id: user.id, method: "totp", credential: credential))
        ]
    }

    /// The credential store's name for a user's TOTP secret.
    public static func secondFactorCredential(of user: IdentityState.User) -> String { "totp.\(user.id)" }

    /// A new token for `name`, living `lifetime` seconds from `now`.
    /// `secondFactorStep`: the TOTP step of the code a sign-in gave; refused unless newer than
    /// every step the user's sign-ins used before (decided under the catalog's lock, so two
    /// servers given the same code at once issue one token, not two).
    public static func issueToken(
        _ token: APIToken, id: String, for name: String, lifetime: TimeInterval, label: String?, now: Date,
        secondFactorStep: UInt64? = nil, in state: IdentityState
    ) throws(IdentityError) -> [IdentityChange] {
        let user = try require(name, in: state)
        if let label, label.count > 200 || label.unicodeScalars.contains(where: { $0.value < 0x20 }) {
            throw IdentityError(.invalid, "a token's label is one line of at most 200 characters")
        }
        if let step = secondFactorStep, let used = user.lastSecondFactorStep, step <= used {
            throw IdentityError(
                .reused, "this code (or a newer one) was used already for a sign-in of '\(user.name)': wait for the next code")
        }
        var issued = IdentityEvent.TokenIssued(
            id: id, userID: user.id, userName: user.name, prefix: token.prefix, sha256: APIToken.sha256(token.text),
            expiresAt: now.addingTimeInterval(lifetime), label: label)
        issued.secondFactorStep = secondFactorStep
        return [IdentityChange(stream: IdentityEvent.tokenStream(id), expectedVersion: 0, issued)]
    }

    public static func revokeToken(prefix: String, in state: IdentityState) throws(IdentityError) -> [IdentityChange] {
        guard let token = state.token(prefix: prefix) else {
            throw IdentityError(.notFound, "no token starts with '\(prefix)': see 'tidemark token list'")
        }
        guard !token.revoked else { return [] }
        return [
            IdentityChange(
                stream: IdentityEvent.tokenStream(token.id), expectedVersion: token.version,
                IdentityEvent.TokenRevoked(id: token.id, prefix: token.prefix))
        ]
    }

    static func require(_ name: String, in state: IdentityState) throws(IdentityError) -> IdentityState.User {
        guard let user = state.user(named: name) else {
            let known = state.users.values.map(\.name).sorted().prefix(10).joined(separator: ", ")
            throw IdentityError(
                .notFound, "no user is named '\(name)' (known: \(known.isEmpty ? "none" : known)): see 'tidemark user list'")
        }
        return user
    }
}
