import EventStore
import Foundation
import TestSupport
import Testing

@Suite("JSON string literals")
struct JSONStringTests {
    @Test(
        "quoted text reads back as the same string",
        arguments: [
            "plain", "quote \" backslash \\ slash /", "tab\tnewline\ncr\r", "bell \u{7} nul-free \u{1F}", "ünïcödé 日本 😀", "",
        ])
    func roundTrip(text: String) throws {
        let literal = JSONString.quoted(text)
        let parsed = try JSONSerialization.jsonObject(with: Data("[\(literal)]".utf8)) as? [String]
        #expect(parsed == [text])
    }

    @Test("metadata with awkward actor and host is stored and decoded unchanged")
    func metadataThroughTheStore() async throws {
        let database = try await TestDatabase.create()
        let store = database.eventStore()
        let metadata = EventMetadata(correlationID: UUID(), actor: "cli:\"o'brien\"\n", host: "host\\01")
        try await store.append(to: "job-a", events: [try NewEvent(type: "Tested", jsonData: "{}", metadata: metadata)])
        let stored = try #require(try await store.readStream("job-a").first)
        #expect(try stored.metadata() == metadata)
        await store.pool.close()
    }
}
