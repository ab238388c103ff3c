import Catalog
import Foundation
import Testing

@Suite("Two-person approval: a request's fold and the decisions it takes")
struct ApprovalTests {
    static let action = Approval.Action(kind: .remove, objectKind: .job, objectID: "j1", objectName: "nightly", version: 3)

    static func requested(expires: Date) -> (type: String, data: String) {
        ("ApprovalRequested", Approval.json(Approval.Requested(id: "a1", action: action, requestedBy: "api:alice", expiresAt: expires)))
    }

    @Test("pending until decided or expired; the requester cannot approve their own; a decided request takes no other decision")
    func decisions() throws {
        let now = Date()
        let pending = try #require(try Approval.fold([Self.requested(expires: now.addingTimeInterval(60))]))
        #expect(pending.state(at: now) == .pending && pending.version == 1)
        #expect(pending.state(at: now.addingTimeInterval(61)) == .expired)
        #expect(throws: CatalogError.self) { try Approval.checkDecision(pending, by: "api:alice", approving: true, now: now) }
        // The requester may withdraw (deny) their own; another administrator may approve.
        try Approval.checkDecision(pending, by: "api:alice", approving: false, now: now)
        try Approval.checkDecision(pending, by: "api:bob", approving: true, now: now)
        #expect {
            try Approval.checkDecision(pending, by: "api:bob", approving: true, now: now.addingTimeInterval(120))
        } throws: { "\($0)".contains("expired") }

        let approved = try #require(
            try Approval.fold([
                Self.requested(expires: now.addingTimeInterval(60)),
                ("Approved", Approval.json(Approval.Decided(id: "a1", decidedBy: "api:bob", reason: nil))),
            ]))
        #expect(approved.state(at: now.addingTimeInterval(3_600)) == .approved && approved.version == 2)
        #expect {
            try Approval.checkDecision(approved, by: "api:carol", approving: false, now: now)
        } throws: { "\($0)".contains("approved already by api:bob") }
        #expect(try Approval.fold([]) == nil)
        #expect(throws: CatalogError.self) { _ = try Approval.fold([("ApprovalRequested", "{\"id\": 1}")]) }
    }

    @Test("fewer restore points, fewer days, or a switch of unit shortens; more, or the same, does not")
    func shortening() {
        let seven = JobRetention(count: 7, unit: .restorePoints)
        #expect(Approval.shortens(JobRetention(count: 5, unit: .restorePoints), comparedTo: seven))
        #expect(Approval.shortens(JobRetention(count: 30, unit: .days), comparedTo: seven))
        #expect(!Approval.shortens(JobRetention(count: 14, unit: .restorePoints), comparedTo: seven))
        #expect(!Approval.shortens(seven, comparedTo: seven))
    }
}
