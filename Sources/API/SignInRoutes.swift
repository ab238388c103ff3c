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
    let authenticator: Authenticator
    let access: AccessRecorder
    let throttle: SignInThrottle
    let credentials: CredentialStore?
    let logger: Logger
    let verifiers = SignInSlots(limit: 16)

    static let tokenLifetime: TimeInterval = 12 * 3_600
    /// bcrypt of a password nobody has: an unknown user costs the same time as a known one.
    /// Made on first use, on the sign-in pool (the closure that reads it runs there).
    static let decoy = Password.hash("decoy password that matches nothing")
    /// bcrypt's own threads: a flood of sign-ins waits here, never in front of the backups'
    /// file work on the shared pool.
    static let pool = BlockingIOPool(name: "tidemark-sign-in", threads: 2)

    func add(to router: Router<APIContext>) {
        router.post("api/v1/sign-in", use: signIn)
    }

    struct Attempt: Decodable {
        let user: String
        let password: String
        let code: String?
        /// The web console's sign-in: the token goes into an HttpOnly cookie, not the reply.
        let console: Bool?
    }

    @Sendable func signIn(_ request: Request, context: APIContext) async throws -> Response {
        let address = context.clientAddress
        // Counted before the slow checks, so concurrent attempts cannot all pass the limit.
        guard await access.admit(address: address) else { throw Self.throttled }
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
        // The name's rules are public: checking them first reveals nothing, and keeps what the
        // throttle and the records hold small.
        guard (try? IdentityDecider.validateName(name)) != nil, attempt.password.utf8.count <= 1_024,
            (attempt.code?.utf8.count ?? 0) <= 16
        else {
            throw APIProblem.badRequest("user is a user name (1 to 64 of a-z, 0-9, '.', '_', '@', '-'), password at most 1,024 bytes")
        }
        guard await throttle.begin(name) else { throw Self.throttled }
        guard let slot = await verifiers.enter() else {
            await throttle.abandon(name)
            throw APIProblem(.serviceUnavailable, "too many sign-ins are being checked at once: try again in a moment")
        }
        defer { Task { await verifiers.leave(slot) } }

        let state = try await authenticator.current()
        let user = state.user(named: name)
        let password = attempt.password
        let hash = user?.passwordHash
        // The decoy is made and checked on the sign-in pool too: an unknown name costs what a
        // known one does.
        let passwordMatches = await Self.pool.run { Password.verify(password, hash: hash ?? Self.decoy) }
        // A second factor's secret is read whether the password matched or not, so the time
        // of a refusal does not tell a right password from a wrong one.
        var codeMatched: UInt64?
        var secondFactorReadable = true
        if let user, let credential = user.secondFactor {
            let secret = try? await Self.pool.run { try credentials?.read(credential) }
            if let totp = secret.flatMap({ TOTP(base32: $0.secret) }) {
                codeMatched = attempt.code.flatMap { totp.matchingStep($0, at: Date()) }
            } else {
                secondFactorReadable = false
            }
        }
        guard let user, user.passwordHash != nil, passwordMatches else {
            return try await refuse(
                user == nil ? "unknown user" : user?.passwordHash == nil ? "no password set" : "wrong password", name: name,
                address: address)
        }
        var method = "password"
        var usedStep: UInt64?
        if user.secondFactor != nil {
            method = "password+totp"
            guard secondFactorReadable else {
                logger.error("a user's TOTP secret is not in this host's credential store", metadata: ["user": "\(user.name)"])
                return try await refuse("second factor unavailable on this host", name: name, address: address)
            }
            guard attempt.code != nil else { return try await refuse("second factor missing", name: name, address: address) }
            // The fold at hand refuses a code seen before at once; the decider decides again
            // under the catalog's lock, where a code given to two servers at once is used once.
            guard let step = codeMatched, step > user.lastSecondFactorStep ?? 0 else {
                return try await refuse("wrong or reused code", name: name, address: address)
            }
            usedStep = step
        }
        let token = APIToken.generate()
        let id = UUID().uuidString.lowercased()
        let now = Date()
        let metadata = EventMetadata(
            correlationID: UUID(), actor: "api:\(user.name)", host: ProcessInfo.processInfo.hostName, clientAddress: address)
        let userName = user.name
        let console = attempt.console == true
        let label = (console ? ConsoleSession.labelPrefix : "sign-in from ") + address
        do {
            try await identity.execute(metadata: metadata) { [usedStep] state throws(IdentityError) in
                try IdentityDecider.issueToken(
                    token, id: id, for: userName, lifetime: Self.tokenLifetime, label: label, now: now, secondFactorStep: usedStep,
                    in: state)
            }
        } catch let error as IdentityError where error.code == .reused {
            return try await refuse("wrong or reused code", name: name, address: address)
        }
        var signedIn = ["user_name": user.name, "method": method, "token_prefix": token.prefix, "client_address": address]
        if let usedStep { signedIn["totp_step"] = "\(usedStep)" }
        await access.append("SignedIn", signedIn, address: address)
        await throttle.succeeded(name)
        var reply: [String: Any] = [
            "token_prefix": token.prefix, "user": user.name, "role": user.role.rawValue,
            "permissions": user.role.permissions.map(\.rawValue).sorted(),
            "expires_at": ISO8601DateFormatter().string(from: now.addingTimeInterval(Self.tokenLifetime)),
        ]
        guard console else {
            reply["token"] = token.text
            return try JSONResponse.object(reply)
        }
        reply["csrf_token"] = ConsoleSession.csrf(for: token.text)
        var response = try JSONResponse.object(reply)
        for cookie in ConsoleSession.cookies(token: token.text, lifetime: Self.tokenLifetime) { response.setCookie(cookie) }
        return response
    }

    /// 401 without detail, recorded with the reason, counted against the address and the user.
    func refuse(_ reason: String, name: String, address: String) async throws -> Response {
        await access.refused(reason: reason, tokenPrefix: nil, address: address, method: "password", user: name, counted: true)
        throw APIProblem.unauthorized
    }

    static var throttled: APIProblem {
        var problem = APIProblem(.tooManyRequests, "too many refused sign-ins: wait a few minutes and try again")
        problem.headers[.retryAfter] = "300"
        return problem
    }
}

/// At most `limit` sign-ins checked at once; more are refused (503) rather than queued.
actor SignInSlots {
    let limit: Int
    private var inUse = 0

    init(limit: Int) { self.limit = limit }

    func enter() -> Int? {
        guard inUse < limit else { return nil }
        inUse += 1
        return inUse
    }

    func leave(_ slot: Int) { inUse -= 1 }
}

/// Sign-in attempts per user (from any address). An attempt counts as a failure from its
/// start and is forgiven only by its success, so concurrent attempts cannot all pass the limit
/// before any is refused.
actor SignInThrottle {
    static let failuresAllowed = 5
    static let window: TimeInterval = 15 * 60
    private var failures: [String: [Date]] = [:]

    func isLocked(_ name: String, now: Date = Date()) -> Bool {
        let recent = (failures[name] ?? []).filter { now.timeIntervalSince($0) < Self.window }
        failures[name] = recent.isEmpty ? nil : recent
        return recent.count >= Self.failuresAllowed
    }

    /// Counts an attempt before it is checked; false when the user is locked.
    func begin(_ name: String, now: Date = Date()) -> Bool {
        guard !isLocked(name, now: now) else { return false }
        failures[name, default: []].append(now)
        // Bounded: names nobody has are counted too, so forget the oldest past a limit.
        if failures.count > 50_000, let oldest = failures.min(by: { ($0.value.last ?? now) < ($1.value.last ?? now) })?.key {
            failures[oldest] = nil
        }
        return true
    }

    /// Forgets the user's failures: the password and code were right.
    func succeeded(_ name: String) { failures[name] = nil }

    /// An attempt that was never checked (the server was busy) does not count.
    func abandon(_ name: String) {
        if var times = failures[name], !times.isEmpty {
            times.removeLast()
            failures[name] = times.isEmpty ? nil : times
        }
    }
}
