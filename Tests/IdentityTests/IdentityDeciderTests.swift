import Foundation
import Identity
import Testing

/// Users, roles and tokens decided on the folded state: what is refused and why, and that a
/// token is never in an event.
@Suite("Identity: users, roles and tokens")
struct IdentityDeciderTests {
    /// The state after applying `changes` as a store would have appended them.
    static func applying(_ changes: [IdentityChange], to state: IdentityState = IdentityState(), at now: Date = Date()) -> IdentityState {
        var state = state
        for change in changes {
            state.apply(
                stream: change.stream, version: change.expectedVersion + 1, type: change.eventType, data: Data(change.data.utf8),
                recordedAt: now)
        }
        return state
    }

    static func uuid() -> String { UUID().uuidString.lowercased() }

    @Test("a user is added once; names are checked; the role list is in the refusal")
    func users() throws {
        var state = Self.applying(try IdentityDecider.addUser("alice", role: .administrator, id: Self.uuid(), in: IdentityState()))
        #expect(state.user(named: "ALICE")?.role == .administrator)
        #expect(throws: IdentityError.self) { try IdentityDecider.addUser("Alice", role: .viewer, id: Self.uuid(), in: state) }
        for bad in ["", "-lead", "with space", "ünï", "a/b", String(repeating: "a", count: 65), "x\u{202E}y"] {
            #expect(throws: IdentityError.self, "\(bad)") { try IdentityDecider.addUser(bad, role: .viewer, id: Self.uuid(), in: state) }
        }
        let error = try #require(throws: IdentityError.self) { try Role.named("boss") }
        #expect(error.message.contains("administrator, operator, restore-operator, auditor, viewer"))
        state = Self.applying(try IdentityDecider.addUser("bob", role: .viewer, id: Self.uuid(), in: state), to: state)
        #expect(state.users.count == 2)
    }

    @Test("a TOTP step issues one token per user: the same or an older step is refused, a newer one and another user's are not")
    func secondFactorStepsOnce() throws {
        var state = Self.applying(try IdentityDecider.addUser("alice", role: .operator, id: Self.uuid(), in: IdentityState()))
        state = Self.applying(try IdentityDecider.addUser("bob", role: .operator, id: Self.uuid(), in: state), to: state)
        func issue(_ name: String, step: UInt64?) throws -> [IdentityChange] {
            try IdentityDecider.issueToken(
                APIToken.generate(), id: Self.uuid(), for: name, lifetime: 3_600, label: nil, now: Date(), secondFactorStep: step, in: state
            )
        }
        state = Self.applying(try issue("alice", step: 100), to: state)
        #expect(state.user(named: "alice")?.lastSecondFactorStep == 100)
        for step: UInt64 in [99, 100] {
            let refused = try #require(throws: IdentityError.self) { try issue("alice", step: step) }
            #expect(refused.code == .reused && refused.message.contains("next code"), "\(refused.message)")
        }
        #expect(try issue("bob", step: 100).count == 1)
        #expect(try issue("alice", step: nil).count == 1, "a token without a code (a command's) is not a sign-in's")
        state = Self.applying(try issue("alice", step: 101), to: state)
        #expect(state.user(named: "alice")?.lastSecondFactorStep == 101)
    }

    @Test("a restore operator limited to VMs or jobs: the limit is folded, changed by a grant, refused for other roles")
    func restoreScope() throws {
        let job = RestoreScope.Job(id: Self.uuid(), name: "nightly")
        let scope = RestoreScope(vms: ["Web-01"], jobs: [job])
        var state = Self.applying(
            try IdentityDecider.addUser("helpdesk", role: .restoreOperator, scope: scope, id: Self.uuid(), in: IdentityState()))
        let limited = try #require(state.user(named: "helpdesk")?.scope)
        #expect(limited.permits(vmName: "web-01", jobID: nil))
        #expect(limited.permits(vmName: "db-01", jobID: job.id))
        #expect(!limited.permits(vmName: "db-01", jobID: Self.uuid()))
        #expect(!limited.permits(vmName: "db-01", jobID: nil))
        #expect(limited.description == "VMs Web-01; jobs nightly")

        let operatorScope = try #require(throws: IdentityError.self) {
            try IdentityDecider.addUser("ops", role: .operator, scope: scope, id: Self.uuid(), in: state)
        }
        #expect(operatorScope.message.contains("limit a restore-operator"))
        #expect(throws: IdentityError.self) {
            try IdentityDecider.addUser("empty", role: .restoreOperator, scope: RestoreScope(vms: [], jobs: []), id: Self.uuid(), in: state)
        }
        #expect(throws: IdentityError.self) {
            try IdentityDecider.addUser(
                "nul", role: .restoreOperator, scope: RestoreScope(vms: ["a\u{0}"], jobs: []), id: Self.uuid(), in: state)
        }
        // The same role with another limit is a change; the same limit again is none; no limit lifts it.
        let wider = RestoreScope(vms: ["web-01", "db-01"], jobs: [])
        let changes = try IdentityDecider.grant(.restoreOperator, scope: wider, to: "helpdesk", in: state)
        #expect(changes.count == 1)
        state = Self.applying(changes, to: state)
        #expect(state.user(named: "helpdesk")?.scope == wider)
        #expect(try IdentityDecider.grant(.restoreOperator, scope: wider, to: "helpdesk", in: state).isEmpty)
        state = Self.applying(try IdentityDecider.grant(.restoreOperator, to: "helpdesk", in: state), to: state)
        #expect(state.user(named: "helpdesk")?.scope == nil)
    }

    @Test("the last administrator can be neither removed nor demoted; with a second one, both can")
    func lastAdministrator() throws {
        var state = Self.applying(try IdentityDecider.addUser("alice", role: .administrator, id: Self.uuid(), in: IdentityState()))
        let removal = try #require(throws: IdentityError.self) { try IdentityDecider.removeUser("alice", in: state) }
        #expect(removal.code == .lastAdministrator)
        #expect(throws: IdentityError.self) { try IdentityDecider.grant(.viewer, to: "alice", in: state) }
        state = Self.applying(try IdentityDecider.addUser("carol", role: .operator, id: Self.uuid(), in: state), to: state)
        state = Self.applying(try IdentityDecider.grant(.administrator, to: "carol", in: state), to: state)
        state = Self.applying(try IdentityDecider.grant(.viewer, to: "alice", in: state), to: state)
        #expect(state.user(named: "alice")?.role == .viewer)
        #expect(try IdentityDecider.grant(.viewer, to: "alice", in: state).isEmpty)
    }

    @Test("a token's event holds its SHA-256 and prefix, never the token; revoked, expired and unknown tokens are told apart")
    func tokens() throws {
        let now = Date()
        var state = Self.applying(try IdentityDecider.addUser("alice", role: .operator, id: Self.uuid(), in: IdentityState()))
        let token = APIToken.generate()
        let issued = try IdentityDecider.issueToken(token, id: Self.uuid(), for: "alice", lifetime: 3_600, label: "ci", now: now, in: state)
        #expect(issued.count == 1 && !issued[0].data.contains(token.text) && issued[0].data.contains(token.prefix))
        #expect(issued[0].data.contains(APIToken.sha256(token.text)))
        state = Self.applying(issued, to: state, at: now)
        let stored = try #require(state.token(prefix: token.prefix))
        // Stored to the second (ISO 8601 in the event).
        #expect(APIToken.same(stored.sha256, APIToken.sha256(token.text)) && abs(stored.expiresAt.timeIntervalSince(now) - 3_600) < 1)
        #expect(APIToken.prefix(of: token.text) == token.prefix)
        for bad in [
            "", "tm_", "Bearer x", "tm_ABCDEFGH_" + String(repeating: "a", count: 43), token.text + "x", String(token.text.dropLast()),
        ] {
            #expect(APIToken.prefix(of: bad) == nil, "\(bad)")
        }
        #expect(throws: IdentityError.self) {
            try IdentityDecider.issueToken(token, id: Self.uuid(), for: "nobody", lifetime: 60, label: nil, now: now, in: state)
        }
        state = Self.applying(try IdentityDecider.revokeToken(prefix: token.prefix, in: state), to: state)
        #expect(state.token(prefix: token.prefix)?.revoked == true)
        #expect(try IdentityDecider.revokeToken(prefix: token.prefix, in: state).isEmpty)
        #expect(throws: IdentityError.self) { try IdentityDecider.revokeToken(prefix: "tm_00000000", in: state) }
    }

    @Test("lifetimes read 30m, 12h, 90d; none is for ever or malformed")
    func lifetimes() throws {
        #expect(try APIToken.lifetime("30m") == 1_800)
        #expect(try APIToken.lifetime("12h") == 43_200)
        #expect(try APIToken.lifetime("90d") == 90 * 86_400)
        for bad in ["", "d", "0d", "-1d", "90", "90w", "5000d", "1.5d"] {
            #expect(throws: IdentityError.self, "\(bad)") { try APIToken.lifetime(bad) }
        }
    }

    @Test("each role holds exactly the permissions the issue's table gives it")
    func roles() {
        #expect(Role.administrator.permissions == Set(Permission.allCases))
        #expect(Role.operator.allows(.runJobs) && !Role.operator.allows(.editCatalog) && !Role.operator.allows(.restore))
        #expect(Role.restoreOperator.allows(.restore) && !Role.restoreOperator.allows(.runJobs))
        #expect(Role.auditor.allows(.readAudit) && !Role.auditor.allows(.runJobs) && !Role.auditor.allows(.manageUsers))
        #expect(Role.viewer.permissions == [.readCatalog, .readSessions])
    }
}

@Suite("Sign-in: passwords and TOTP codes")
struct SignInSecretsTests {
    /// RFC 6238's SHA-1 vectors (the secret "12345678901234567890"), cut to 6 digits.
    @Test("TOTP codes match RFC 6238's vectors; a neighbouring step is accepted, others and malformed codes are not")
    func totp() throws {
        let totp = TOTP(secret: Array("12345678901234567890".utf8))
        #expect(totp.base32 == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
        #expect(TOTP(base32: "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")?.secret == totp.secret)
        #expect(TOTP(base32: "not base32!") == nil)
        for (seconds, code) in [(59, "287082"), (1_111_111_109, "081804"), (1_234_567_890, "005924"), (2_000_000_000, "279037")] {
            #expect(totp.code(counter: TOTP.counter(at: Date(timeIntervalSince1970: TimeInterval(seconds)))) == code, "\(seconds)")
        }
        let moment = Date(timeIntervalSince1970: 1_111_111_109)
        let step = TOTP.counter(at: moment)
        #expect(totp.matchingStep("081804", at: moment) == step)
        #expect(totp.matchingStep(totp.code(counter: step + 1), at: moment) == step + 1)
        #expect(totp.matchingStep(totp.code(counter: step + 2), at: moment) == nil)
        for bad in ["", "08180", "0818045", "08180a", "٠٨١٨٠٤"] { #expect(totp.matchingStep(bad, at: moment) == nil, "\(bad)") }
        #expect(totp.provisioningURL(user: "alice").hasPrefix("otpauth://totp/Tidemark:alice?secret=GEZDGNBVGY3TQOJQ"))
    }

    @Test("passwords: bcrypt verifies the right one only; too short, too long or with control characters refused")
    func passwords() throws {
        let hash = Password.hash("correct horse battery")
        #expect(hash.hasPrefix("$2") && !hash.contains("correct"))
        #expect(Password.verify("correct horse battery", hash: hash))
        #expect(!Password.verify("correct horse battery!", hash: hash))
        for bad in ["short", String(repeating: "x", count: 73), "twelve chars\u{0}x"] {
            #expect(throws: IdentityError.self) { try Password.check(bad) }
        }
        try Password.check("twelve chars")
    }
}
