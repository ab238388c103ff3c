import Catalog
import Testing

/// Names are limited in Unicode scalars and UTF-8 bytes, not characters; invisible format
/// characters and separators are refused; refusals echo names escaped.
@Suite("Object names")
struct ObjectNameTests {
    @Test("one character carrying thousands of combining marks is refused by its scalar count")
    func combiningMarks() {
        let name = "a" + String(repeating: "\u{301}", count: 60_000)
        #expect(name.count == 1)
        let error = #expect(throws: CatalogError.self) { try ObjectName.validate(name, kind: .job) }
        #expect(error?.description.contains("60001 characters (Unicode scalars) long") == true)
        // The message quotes only the start of the name.
        #expect((error?.description.utf8.count ?? .max) < 1_000)
    }

    @Test("at most 100 scalars, so at most 400 bytes")
    func limits() throws {
        try ObjectName.validate(String(repeating: "x", count: 100), kind: .job)
        try ObjectName.validate(String(repeating: "\u{1F600}", count: 100), kind: .job)  // 400 bytes
        #expect(throws: CatalogError.self) { try ObjectName.validate(String(repeating: "x", count: 101), kind: .job) }
        // 100 characters, 101 scalars: "é" written as e + U+0301.
        #expect(throws: CatalogError.self) { try ObjectName.validate(String(repeating: "x", count: 99) + "e\u{301}", kind: .job) }
    }

    @Test(
        "format characters and separators are refused, and the message shows them escaped",
        arguments: [
            "nightly\u{202E}gpj.exe", "a\u{202A}b", "a\u{2066}b", "a\u{200E}b", "a\u{200F}b", "a\u{2028}b", "a\u{2029}b", "a\u{200B}b",
            "a\u{1B}[2Jb",
        ])
    func invisible(name: String) {
        let error = #expect(throws: CatalogError.self) { try ObjectName.validate(name, kind: .job) }
        let message = error?.description ?? ""
        #expect(message.contains("\\u{"), "\(message)")
        #expect(!message.unicodeScalars.contains(where: EscapedText.isInvisible), "\(message)")
    }

    @Test("a name that names nothing is echoed escaped")
    func unknownEscaped() {
        let message = UnknownName.message("job", "x\u{1B}[2J\u{202E}y", known: ["a"], listCommand: "tidemark job list")
        #expect(message.contains("x\\u{1B}[2J\\u{202E}y"))
        #expect(!message.unicodeScalars.contains(where: EscapedText.isInvisible))
    }
}
