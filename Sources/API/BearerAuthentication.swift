import EventStore
import Foundation
import Hummingbird
import Identity
import Logging

/// Every `/api/v1` route but the contract itself needs `Authorization: Bearer TOKEN`, or the
/// web console's session cookie (see ``ConsoleSession``: a change then needs its CSRF value). A
/// missing, unknown, revoked or expired token is 401 with no detail; a presented token that
/// is refused is recorded (`SignInFailed`, with its visible prefix and the client's address)
/// unless the address has been refused too often lately: then 429, and nothing more is
/// written, so guessing can neither succeed by volume nor flood the log.
struct BearerAuthentication: RouterMiddleware {
    typealias Context = APIContext

    let authenticator: Authenticator
    let access: AccessRecorder
    let idle: ConsoleIdleClock
    let identity: IdentityStore
    let logger: Logger

    /// Revokes a console session that went idle (`TokenRevoked` by `server:idle-expiry`). A
    /// failure is logged; the session is refused here either way.
    func expire(_ prefix: String, user: String, address: String) async {
        do {
            try await identity.execute(
                metadata: EventMetadata(
                    correlationID: UUID(), actor: "server:idle-expiry", host: ProcessInfo.processInfo.hostName, clientAddress: address)
            ) { state throws(IdentityError) in try IdentityDecider.revokeToken(prefix: prefix, in: state) }
            logger.info("an idle console session was revoked", metadata: ["user": "\(user)", "token_prefix": "\(prefix)"])
        } catch {
            logger.error("an idle console session could not be revoked", metadata: ["token_prefix": "\(prefix)", "error": "\(error)"])
        }
    }

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response) async throws -> Response {
        if request.uri.path == "/api/v1/openapi.json" { return try await next(request, context) }
        if await access.isThrottled(address: context.clientAddress) {
            var problem = APIProblem(.tooManyRequests, "too many refused sign-ins from \(context.clientAddress): wait a minute")
            problem.headers[.retryAfter] = "60"
            throw problem
        }
        let presented: String
        var fromCookie = false
        if let header = request.headers[.authorization] {
            guard header.hasPrefix("Bearer ") else { throw APIProblem.unauthorized }
            presented = String(header.dropFirst("Bearer ".count))
        } else if let cookie = request.cookies[ConsoleSession.cookie]?.value, !cookie.isEmpty {
            presented = cookie
            fromCookie = true
        } else {
            throw APIProblem.unauthorized
        }
        // Checked before the token: a forged cross-site change is refused without a lookup.
        if fromCookie, !ConsoleSession.isSafe(request.method),
            request.headers[ConsoleSession.csrfHeader].map({ APIToken.same($0, ConsoleSession.csrf(for: presented)) }) != true
        {
            throw APIProblem(.forbidden, "a change made with the console's cookie needs its X-CSRF-Token header: reload the console")
        }
        switch try await authenticator.authenticate(token: presented) {
        case .refused(let reason, let prefix):
            await access.refused(reason: reason, tokenPrefix: prefix, address: context.clientAddress)
            throw APIProblem.unauthorized
        case .user(let user, let prefix, let label):
            if label?.hasPrefix(ConsoleSession.labelPrefix) == true,
                await !idle.admit(prefix, background: request.headers[ConsoleSession.backgroundHeader] != nil)
            {
                await access.refused(reason: "idle console session", tokenPrefix: prefix, address: context.clientAddress, counted: true)
                // Revoked in the log, so no restart and no other server takes it up again.
                await expire(prefix, user: user.name, address: context.clientAddress)
                var problem = APIProblem.unauthorized
                for cookie in ConsoleSession.cleared { problem.headers[values: .setCookie].append(cookie.description) }
                throw problem
            }
            var context = context
            context.user = user
            context.tokenPrefix = prefix
            return try await next(request, context)
        }
    }
}

extension APIContext {
    /// The user, when it holds `permission`; else 403 naming what is missing.
    func require(_ permission: Permission) throws -> IdentityState.User {
        guard let user else { throw APIProblem.unauthorized }
        guard user.role.allows(permission) else {
            throw APIProblem(
                .forbidden, "the role \(user.role.rawValue) of '\(user.name)' lacks the permission \(permission.rawValue)")
        }
        return user
    }
}
