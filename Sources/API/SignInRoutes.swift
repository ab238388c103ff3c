import BlockingIO
import EventStore
import Foundation
import Hummingbird
import Identity
import Logging
import NIOCore
import Secrets

/// `POST /api/v1/sign-in`: a user's password (and, when asked for, a TOTP code) for a token
/// that lives 12 hours, the console's way in. Every attempt is recorded (`SignedIn`, or
/// `SignInFailed` with the reason) with the client's address. Guessing is throttled two ways:
/// an address by the same refusal count as tokens, a user after 5 failures in 15 minutes
/// (from any address), so neither a botnet nor one host can try passwords by volume. A
/// refusal says nothing about which part was wrong.
struct SignInRoutes {
    let identity: IdentityStore
    let access: AccessRecorder
    let throttle: SignInThrottle
    let credentials: CredentialStore?
    let logger: Logger

    static let tokenLifetime: TimeInterval = 12 * 3_600
    /// bcrypt of a password nobody has: an unknown user costs the same time as a known one.
    static let decoy = Password.hash("decoy password that matches nothing")

    func add(to router: Router<APIContext>) {
        router.post("api/v1/sign-in", use: signIn)
    }

    struct Attempt: Decodable {
        let user: String
        let password: String
        let code: String?
    }

    @Sendable func signIn(_ request: Request, context: APIContext) async throws -> Response {
        let address = context.clientAddress
        if await access.isThrottled(address: address) { throw Self.throttled }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: 4_096)
        } catch is NIOTooManyBytesError {
            throw APIProblem(.contentTooLarge, "a sign-in is a user, a password and perhaps a code: at most 4 KiB")
        }
        guard let attempt = try? JSONDecoder().decode(Attempt.self, from: Data(buffer: body)) else {
            throw APIProblem.badRequest(#"send {"user": NAME, "password": PASSWORD} as JSON, with "code" when a second factor is set"#)
        }
        let name = attempt.user.lowercased()
        guard (1...64).contains(name.count), attempt.password.utf8.count <= 1_024 else {
            throw APIProblem.badRequest("user is 1 to 64 characters and password at most 1,024 bytes")
        }
        if await throttle.isLocked(name) { throw Self.throttled }

        let state = try await identity.load().state
        let user = state.user(named: name)
        let password = attempt.password
        let hash = user?.passwordHash ?? Self.decoy
        let passwordMatches = await BlockingIOPool.shared.run { Password.verify(password, hash: hash) }
        guard let user, user.passwordHash != nil, passwordMatches else {
            return try await refuse(
                user == nil ? "unknown user" : user?.passwordHash == nil ? "no password set" : "wrong password", name: name,
                address: address)
        }
        var method = "password"
        if let credential = user.secondFactor {
            method = "password+totp"
            guard let code = attempt.code else { return try await refuse("second factor missing", name: name, address: address) }
            guard let credentials else { return try await refuse("second factor unavailable on this host", name: name, address: address) }
            let secret = try? await BlockingIOPool.shared.run { try credentials.read(credential) }
            guard let totp = secret.flatMap({ TOTP(base32: $0.secret) }) else {
                logger.error("a user's TOTP secret is not in this host's credential store", metadata: ["user": "\(user.name)"])
                return try await refuse("second factor unavailable on this host", name: name, address: address)
            }
            guard let step = totp.matchingStep(code, at: Date()), await throttle.use(step: step, by: user.id) else {
                return try await refuse("wrong or reused code", name: name, address: address)
            }
        }
        let token = APIToken.generate()
        let id = UUID().uuidString.lowercased()
        let now = Date()
        let metadata = EventMetadata(
            correlationID: UUID(), actor: "api:\(user.name)", host: ProcessInfo.processInfo.hostName, clientAddress: address)
        let userName = user.name
        try await identity.execute(metadata: metadata) { state throws(IdentityError) in
            try IdentityDecider.issueToken(
                token, id: id, for: userName, lifetime: Self.tokenLifetime, label: "sign-in from \(address)", now: now, in: state)
        }
        await access.append(
            "SignedIn", ["user_name": user.name, "method": method, "token_prefix": token.prefix, "client_address": address],
            address: address)
        await throttle.succeeded(name)
        return try JSONResponse.object([
            "token": token.text, "token_prefix": token.prefix, "user": user.name, "role": user.role.rawValue,
            "expires_at": ISO8601DateFormatter().string(from: now.addingTimeInterval(Self.tokenLifetime)),
        ])
    }

    /// 401 without detail, recorded with the reason, counted against the address and the user.
    func refuse(_ reason: String, name: String, address: String) async throws -> Response {
        await throttle.failed(name)
        await access.refused(reason: reason, tokenPrefix: nil, address: address, method: "password", user: name)
        throw APIProblem.unauthorized
    }

    static var throttled: APIProblem {
        var problem = APIProblem(.tooManyRequests, "too many refused sign-ins: wait a few minutes and try again")
        problem.headers[.retryAfter] = "300"
        return problem
    }
}

/// Failed sign-ins per user (from any address), and the TOTP steps already used.
actor SignInThrottle {
    static let failuresAllowed = 5
    static let window: TimeInterval = 15 * 60
    private var failures: [String: [Date]] = [:]
    private var usedSteps: [String: UInt64] = [:]

    func isLocked(_ name: String, now: Date = Date()) -> Bool {
        let recent = (failures[name] ?? []).filter { now.timeIntervalSince($0) < Self.window }
        failures[name] = recent.isEmpty ? nil : recent
        return recent.count >= Self.failuresAllowed
    }

    func failed(_ name: String, now: Date = Date()) {
        failures[name, default: []].append(now)
        // Bounded: names nobody has are counted too, so forget the oldest past a limit.
        if failures.count > 50_000, let oldest = failures.min(by: { ($0.value.last ?? now) < ($1.value.last ?? now) })?.key {
            failures[oldest] = nil
        }
    }

    func succeeded(_ name: String) { failures[name] = nil }

    /// A code's step is good once per user: a code seen on the wire cannot be replayed.
    func use(step: UInt64, by user: String) -> Bool {
        if let last = usedSteps[user], step <= last { return false }
        usedSteps[user] = step
        return true
    }
}
