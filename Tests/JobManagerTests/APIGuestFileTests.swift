import Foundation
import TestSupport
import Testing

/// A restore point's guest files through the API, from the guest file index: the folders
/// browsed, a name searched, pages followed, a file restored from what was found; limits
/// and bad queries refused.
@Suite("API: guest files of a restore point (browse, search, restore)", .timeLimit(.minutes(10)))
struct APIGuestFileTests {
    @Test("browse / and /etc, search a name, page by one, restore /etc/fstab; refusals: viewer, other VMs, bad queries")
    func browse() async throws {
        let api = try await APIServerHarness.start(guestFiles: true)
        defer { Task { try? await api.stop() } }
        let restorer = try #require(api.tokens["restore-operator"])
        _ = try await APIRestoreTests.backUp(api)
        var points: [[String: Any]] = []
        for _ in 0..<40 where points.isEmpty {
            points = try await api.curl("GET", "/api/v1/restore-points", token: restorer).json["items"] as? [[String: Any]] ?? []
            if points.isEmpty { try await Task.sleep(for: .milliseconds(250)) }
        }
        let point = try #require(points.first?["restore_point_id"] as? String, "no restore point")
        let base = "/api/v1/restore-points/\(point)/files"

        let root = try await api.curl("GET", base, token: restorer)
        let volume = try #require((root.json["volumes"] as? [[String: Any]])?.first, "\(root.body)")
        #expect(volume["file_system"] as? String != nil && volume["partition"] as? Int == 1, "\(root.body)")
        let top = (root.json["items"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
        #expect(top.contains("/etc") && top.allSatisfy { $0.dropFirst().contains("/") == false }, "\(root.body)")

        let etc = try await api.curl("GET", base + "?path=/etc/", token: restorer)
        let fstab = (etc.json["items"] as? [[String: Any]])?.first { $0["name"] as? String == "fstab" }
        #expect(fstab?["path"] as? String == "/etc/fstab" && fstab?["kind"] as? String == "file", "\(etc.body)")
        let found = try await api.curl("GET", base + "?search=STAB", token: restorer)
        #expect((found.json["items"] as? [[String: Any]])?.contains { $0["path"] as? String == "/etc/fstab" } == true, "\(found.body)")
        let literal = try await api.curl("GET", base + "?search=%25", token: restorer)
        #expect((literal.json["items"] as? [Any])?.isEmpty == true, "'%' is a character, not a wildcard: \(literal.body)")

        // One at a time: every entry of / once, in order, then the end.
        var paged: [String] = []
        var next: String? = base + "?limit=1"
        while let link = next, paged.count <= top.count {
            let page = try await api.curl("GET", link, token: restorer)
            paged += (page.json["items"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
            next = page.json["next"] as? String
        }
        #expect(paged == top, "\(paged) against \(top)")

        // Restored from what the browser found.
        let body =
            #"{"vms": ["lab-vm-01"], "point": "\#(point)", "destination": {"kind": "guest-files", "paths": ["/etc/fstab"], "folder": "found"}}"#
        let requested = try await api.curl("POST", "/api/v1/restores", token: restorer, body: body)
        #expect(requested.status == 202, "\(requested.body)")
        let restore = try #require(requested.json["restore_id"] as? String)
        let live = try await api.curl(
            "GET", "/api/v1/restores/\(restore)/events", token: restorer, headers: ["Accept: text/event-stream"], timeLimit: 120)
        #expect(live.body.contains(#""result": "success""#), "\(live.body.suffix(2_000))")
        let folder = try #require(requested.json["folder"] as? String)
        let restored = try String(contentsOfFile: folder + "/found/fstab", encoding: .utf8)
        #expect(restored.contains("LABEL=lab-root"), "\(restored)")

        // Refusals: a viewer, a restore operator limited to another VM, bad queries, unknown points.
        #expect(try await api.curl("GET", base, token: api.tokens["viewer"]).status == 403)
        #expect(try api.environment.tidemark(["user", "add", "elsewhere", "--role", "restore-operator", "--vm", "lab-vm-99"]).status == 0)
        let limited = try await api.curl("GET", base, token: try api.environment.token(for: "elsewhere"))
        #expect(limited.status == 404 && !limited.body.contains("fstab"), "\(limited.body)")
        for query in ["?path=etc", "?path=/etc/../root", "?partition=300", "?search=a/b", "?limit=0"] {
            let bad = try await api.curl("GET", base + query, token: restorer)
            #expect(bad.status == 400, "\(query): \(bad.body)")
        }
        #expect(try await api.curl("GET", base + "?disk=disk-9999", token: restorer).status == 404)
        #expect(try await api.curl("GET", "/api/v1/restore-points/vm-9-1/files", token: restorer).status == 404)
    }
}
