import Testing

@testable import Projections

@Suite("Reading event fields without a JSON decoder")
struct FlatJSONTests {
    @Test("fields of every kind, nested values skipped, escapes undone")
    func fields() {
        let json = FlatJSON(
            #"{"a": "plain", "b": -42, "c": 1.5, "d": null, "e": true, "nested": {"x": "}", "y": [1, {"z": "]"}]}, "list": ["p", "q"], "esc": "say \"hi\"\n", "last": 9223372036854775807}"#
        )
        #expect(json.string("a") == "plain")
        #expect(json.int64("b") == -42)
        #expect(json.double("c") == 1.5)
        #expect(json.int64("c") == nil)
        #expect(json.string("d") == nil && json.int64("d") == nil)
        #expect(json.string("e") == nil)
        #expect(json.decode([String].self, "list") == ["p", "q"])
        #expect(json.string("esc") == "say \"hi\"\n")
        #expect(json.int64("last") == Int64.max)
        #expect(json.string("missing") == nil)
    }

    @Test("what is not a JSON object gives no fields", arguments: ["", "[1, 2]", "{\"a\": ", "{\"a\" 1}", "not json", "{\"a\": \"open"])
    func malformed(text: String) {
        #expect(FlatJSON(text).string("a") == nil)
        #expect(FlatJSON(text).int64("a") == nil)
    }

    @Test("an integer too large for 64 bits is not one")
    func overflow() {
        #expect(FlatJSON(#"{"n": 92233720368547758070}"#).int64("n") == nil)
    }
}
