import Crypto
import EventStore
import Foundation
import Hummingbird

/// How the web console signs in: `POST /api/v1/sign-in` with `"console": true` issues the same
/// 12-hour token as any sign-in, but sets it as a cookie the page's scripts cannot read
/// (HttpOnly, Secure, SameSite=Strict) instead of returning it, so no secret is ever in the
/// page. A change sent with that cookie must carry `X-CSRF-Token`, a value derived from the
/// token that the page gets at sign-in (and in a readable cookie, for a reload): another site
/// can neither read it nor make the browser send it. A console session unused for
/// ``idleLimit`` is refused, as is any token after its 12 hours.
enum ConsoleSession {
    static let cookie = "tidemark_session"
    static let csrfCookie = "tidemark_csrf"
    static let csrfHeader = HTTPFields.Element.Name("X-CSRF-Token")!
    /// Requests the page makes on its own (a dashboard's refresh) send this, so they do not
    /// count as the user being active.
    static let backgroundHeader = HTTPFields.Element.Name("X-Tidemark-Background")!
    /// The label of a token a console sign-in issues; the idle limit applies to these.
    static let labelPrefix = "console sign-in from "
    static let idleLimit: TimeInterval = {
        // TIDEMARK_CONSOLE_IDLE_SECONDS: tests that watch a session expire.
        ProcessInfo.processInfo.environment["TIDEMARK_CONSOLE_IDLE_SECONDS"].flatMap(TimeInterval.init) ?? 30 * 60
    }()

    /// The CSRF value for a session token: an HMAC under the token, so the server needs to keep
    /// nothing, and knowing it tells nothing about the token.
    static func csrf(for token: String) -> String {
        HMAC<SHA256>.authenticationCode(for: Data("tidemark console csrf".utf8), using: SymmetricKey(data: Data(token.utf8))).hexString
    }

    /// Methods that change nothing, which need no CSRF value.
    static func isSafe(_ method: HTTPRequest.Method) -> Bool { method == .get || method == .head || method == .options }

    /// The cookies of a new console session.
    static func cookies(token: String, lifetime: TimeInterval) -> [Cookie] {
        [
            Cookie(name: cookie, value: token, maxAge: Int(lifetime), path: "/", secure: true, httpOnly: true, sameSite: .strict),
            Cookie(
                name: csrfCookie, value: csrf(for: token), maxAge: Int(lifetime), path: "/", secure: true, httpOnly: false,
                sameSite: .strict),
        ]
    }

    /// The cookies that end a console session in the browser.
    static var cleared: [Cookie] {
        [cookie, csrfCookie].map {
            Cookie(name: $0, value: "", maxAge: 0, path: "/", secure: true, httpOnly: $0 == cookie, sameSite: .strict)
        }
    }
}

/// When each console session was last used by its user, in this process: a session idle past
/// the limit is refused and its token revoked in the log, so no server takes it up again. A
/// restart forgets the clocks: a session idle when the server stopped gets one more idle period
/// from its next request (the token's 12 hours still bound it).
actor ConsoleIdleClock {
    private var lastUse: [String: Date] = [:]
    private var expired: Set<String> = []

    /// False when the session went idle too long; else notes the use (unless `background`).
    func admit(_ prefix: String, background: Bool, now: Date = Date()) -> Bool {
        if expired.contains(prefix) { return false }
        if let last = lastUse[prefix], now.timeIntervalSince(last) > ConsoleSession.idleLimit {
            expired.insert(prefix)
            lastUse[prefix] = nil
            return false
        }
        if !background || lastUse[prefix] == nil { lastUse[prefix] = now }
        if lastUse.count > 10_000 { forgetOld(now) }
        if expired.count > 10_000 { expired.removeAll() }  // revoked in the log: the authenticator refuses them
        return true
    }

    /// Sessions idle past the limit are refused at their next request anyway.
    private func forgetOld(_ now: Date) {
        for (prefix, last) in lastUse where now.timeIntervalSince(last) > ConsoleSession.idleLimit {
            lastUse[prefix] = nil
            expired.insert(prefix)
        }
    }
}
