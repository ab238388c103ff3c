import Foundation

/// The identity events: users and their roles in `user-<uuid>` streams, API tokens in
/// `token-<uuid>` streams (migration 0019 lists both categories and their event types). Who
/// could do what, and when, is a fold of these; the secrets themselves are never in them
/// (a token's SHA-256, never the token).
public enum IdentityEvent {
    public static let userCategory = "user"
    public static let tokenCategory = "token"

    public static func userStream(_ id: String) -> String { "\(userCategory)-\(id)" }
    public static func tokenStream(_ id: String) -> String { "\(tokenCategory)-\(id)" }

    public struct UserAdded: Codable, Sendable, Equatable {
        public var id: String
        public var name: String
        public var role: Role
        /// A restore operator's limit to some VMs or jobs; absent: no limit.
        public var scope: RestoreScope?

        public init(id: String, name: String, role: Role, scope: RestoreScope? = nil) {
            self.id = id
            self.name = name
            self.role = role
            self.scope = scope
        }
    }

    public struct RoleGranted: Codable, Sendable, Equatable {
        public var id: String
        public var role: Role
        /// The role it replaces.
        public var previous: Role
        /// The new role's limit (a restore operator's VMs or jobs); absent: no limit.
        public var scope: RestoreScope?

        public init(id: String, role: Role, previous: Role, scope: RestoreScope? = nil) {
            self.id = id
            self.role = role
            self.previous = previous
            self.scope = scope
        }
    }

    public struct UserRemoved: Codable, Sendable, Equatable {
        public var id: String
        /// The name it had, so the log reads on its own.
        public var name: String
    }

    /// A password for signing in: its bcrypt hash only.
    public struct PasswordSet: Codable, Sendable, Equatable {
        public var id: String
        public var passwordHash: String

        enum CodingKeys: String, CodingKey {
            case id
            case passwordHash = "password_hash"
        }
    }

    /// A second factor for password sign-ins: a TOTP secret, kept sealed in the credential
    /// store of the server's host under `credential`, never here.
    public struct SecondFactorSet: Codable, Sendable, Equatable {
        public var id: String
        public var method: String
        /// The credential store's name for the secret; nil when the second factor was removed.
        public var credential: String?
    }

    public struct TokenIssued: Codable, Sendable, Equatable {
        public var id: String
        public var userID: String
        public var userName: String
        /// The token's visible start (`tm_1a2b3c4d`), shown in lists and logs to tell tokens apart.
        public var prefix: String
        /// SHA-256 of the whole token, hex: a token is 256 random bits, so a fast hash is as
        /// strong as a slow one and checking a request costs microseconds.
        public var sha256: String
        public var expiresAt: Date
        public var label: String?
        /// The TOTP time step of the code a sign-in gave for it: each step is good for one
        /// sign-in of a user, across every server, because tokens are issued under the
        /// catalog's lock on the fold that holds the steps already used.
        public var secondFactorStep: UInt64?

        enum CodingKeys: String, CodingKey {
            case id, prefix, sha256, label
            case userID = "user_id"
            case userName = "user_name"
            case expiresAt = "expires_at"
            case secondFactorStep = "second_factor_step"
        }
    }

    public struct TokenRevoked: Codable, Sendable, Equatable {
        public var id: String
        public var prefix: String
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()
}

/// One event an identity command decided to append.
public struct IdentityChange: Sendable, Equatable {
    public let stream: String
    /// The stream's version before this event (0: the stream is new).
    public let expectedVersion: Int64
    public let eventType: String
    public let data: String

    init<Payload: Encodable>(stream: String, expectedVersion: Int64, _ payload: Payload) {
        self.stream = stream
        self.expectedVersion = expectedVersion
        self.eventType = String(describing: Payload.self)
        // Encoding these plain structs cannot fail.
        self.data = String(decoding: (try? IdentityEvent.encoder.encode(payload)) ?? Data("{}".utf8), as: UTF8.self)
    }
}
