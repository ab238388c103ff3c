import Foundation

/// Users and tokens as the log says they are now: the fold of the `user` and `token` streams.
public struct IdentityState: Sendable {
    public struct User: Sendable, Equatable {
        public let id: String
        public var name: String
        public var role: Role
        public var version: Int64
        /// A restore operator's limit; nil: every VM.
        public var scope: RestoreScope?
        /// bcrypt, when the user may sign in with a password.
        public var passwordHash: String?
        /// Where the TOTP secret is kept (the credential store's name), when it is asked for.
        public var secondFactor: String?
        /// The newest TOTP step a sign-in of this user used: a code of it or an older step is
        /// refused, so a code seen on the wire cannot be replayed on any server.
        public var lastSecondFactorStep: UInt64?
    }

    public struct Token: Sendable, Equatable {
        public let id: String
        public let userID: String
        public let userName: String
        public let prefix: String
        public let sha256: String
        public let issuedAt: Date
        public let expiresAt: Date
        public let label: String?
        public var revoked: Bool
        public var version: Int64
    }

    public private(set) var users: [String: User] = [:]
    public private(set) var tokens: [String: Token] = [:]
    /// Events that did not decode (written some other way): left out, counted.
    public private(set) var skippedEvents = 0

    public init() {}

    /// The user named `name` (names compare without case).
    public func user(named name: String) -> User? {
        users.values.first { $0.name.lowercased() == name.lowercased() }
    }

    /// The token whose visible prefix is `prefix`.
    public func token(prefix: String) -> Token? {
        tokens.values.first { $0.prefix == prefix }
    }

    public var administrators: [User] { users.values.filter { $0.role == .administrator } }

    /// Folds one stored event of the identity categories.
    public mutating func apply(stream: String, version: Int64, type: String, data: Data, recordedAt: Date) {
        let decoder = IdentityEvent.decoder
        do {
            switch type {
            case "UserAdded":
                let event = try decoder.decode(IdentityEvent.UserAdded.self, from: data)
                users[event.id] = User(id: event.id, name: event.name, role: event.role, version: version, scope: event.scope)
            case "RoleGranted":
                let event = try decoder.decode(IdentityEvent.RoleGranted.self, from: data)
                users[event.id]?.role = event.role
                users[event.id]?.scope = event.scope
                users[event.id]?.version = version
            case "PasswordSet":
                let event = try decoder.decode(IdentityEvent.PasswordSet.self, from: data)
                users[event.id]?.passwordHash = event.passwordHash
                users[event.id]?.version = version
            case "SecondFactorSet":
                let event = try decoder.decode(IdentityEvent.SecondFactorSet.self, from: data)
                users[event.id]?.secondFactor = event.credential
                users[event.id]?.version = version
            case "UserRemoved":
                let event = try decoder.decode(IdentityEvent.UserRemoved.self, from: data)
                users[event.id] = nil
                for (id, token) in tokens where token.userID == event.id { tokens[id]?.revoked = true }
            case "TokenIssued":
                let event = try decoder.decode(IdentityEvent.TokenIssued.self, from: data)
                tokens[event.id] = Token(
                    id: event.id, userID: event.userID, userName: event.userName, prefix: event.prefix, sha256: event.sha256,
                    issuedAt: recordedAt, expiresAt: event.expiresAt, label: event.label, revoked: false, version: version)
                if let step = event.secondFactorStep, var user = users[event.userID] {
                    user.lastSecondFactorStep = max(step, user.lastSecondFactorStep ?? 0)
                    users[event.userID] = user
                }
            case "TokenRevoked":
                let event = try decoder.decode(IdentityEvent.TokenRevoked.self, from: data)
                tokens[event.id]?.revoked = true
                tokens[event.id]?.version = version
            default:
                skippedEvents += 1
            }
        } catch {
            skippedEvents += 1
        }
    }
}
