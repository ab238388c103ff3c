import Catalog
import Foundation
import Testing

@Suite("Job documents (YAML)")
struct JobDocumentTests {
    @Test("an exported job reads back as the same definition")
    func roundTrip() throws {
        var (fixture, server, repository, proxy) = try CatalogFixture.standard()
        let first = try fixture.add(fixture.job("first", server: server, repository: repository))
        var job = fixture.job("web: nightly", server: server, repository: repository, schedule: .after(job: first))
        job.description = "Web servers, 'quoted' and: colons"
        job.objects = [try ObjectSelector(parsing: "folder:/DC1/vm/Web"), try ObjectSelector(parsing: "tag:gold")]
        job.exclusions = [Exclusion(vm: "web-test"), Exclusion(vm: "db-01", diskKey: 2001)]
        job.proxies = [proxy]
        job.backupWindow = try TimeWindow(parsing: "20:00-06:00")
        job.retention = JobRetention(count: 30, unit: .days)
        job.retry = RetryPolicy(count: 5, waitMinutes: 2)
        job.applicationAware = .requireSuccess
        job.blockSizeBytes = 4 << 20
        job.timeZone = "Europe/Berlin"
        job.enabled = false
        let id = try fixture.add(job)
        let text = JobDocument.export(JobSettings(try #require(fixture.state.jobs[id]).definition, in: fixture.state))
        let parsed = try JobDocument.parse(text, file: "web.yaml")
        try #require(parsed.count == 1)
        let reread = try parsed[0].definition(base: nil, in: fixture.state, defaultTimeZone: "UTC")
        #expect(reread == job, "exported:\n\(text)")
    }

    @Test("an unknown key is named with its line and the key it probably meant")
    func unknownKey() {
        let text = """
            name: nightly
            server: lab
            objects: [vm:web-01]
            repository: main
            schedul: daily at 22:00
            """
        #expect {
            _ = try JobDocument.parse(text, file: "nightly.yaml")
        } throws: { error in
            (error as? CatalogError)?.code == .invalidDocument
                && "\(error)".contains("nightly.yaml line 5: unknown key 'schedul' (did you mean 'schedule'?)")
        }
    }

    @Test(
        "malformed documents say where",
        arguments: [
            ("name: [a, b]\n", "line 1: 'name' takes a single value"),
            ("name: x\nname: y\n", "duplicated key(s): 'name'"),
            ("name: x\nenabled: maybe\n", "line 2: 'enabled' takes true or false"),
            ("name: x\nretry: {count: 3, wait: 1}\n", "unknown key 'retry.wait'"),
            ("name: x\ncompression_level: high\n", "'compression_level' takes a whole number"),
            ("- a\n- b\n", "a job is a mapping"),
            ("name: 'unterminated\n", "not valid YAML"),
            ("", "holds no job"),
        ])
    func malformed(text: String, reason: String) {
        #expect {
            _ = try JobDocument.parse(text, file: "job.yaml")
        } throws: { error in
            "\(error)".contains(reason)
        }
    }

    @Test("a file is planned as a whole: a job may follow one added above it; unchanged jobs change nothing; one bad job refuses all")
    func plan() throws {
        var (fixture, _, _, _) = try CatalogFixture.standard()
        let file = """
            name: first
            server: lab
            repository: main
            objects: [vm:a]
            time_zone: UTC
            ---
            name: second
            server: lab
            repository: main
            objects: [vm:b]
            schedule: after first
            time_zone: UTC
            """
        let changes = try JobDocument.plan(try JobDocument.parse(file, file: "jobs.yaml"), in: fixture.state, defaultTimeZone: "UTC")
        #expect(changes.map(\.eventType) == ["JobAdded", "JobAdded"])
        try fixture.commit(changes)
        #expect(try JobDocument.plan(try JobDocument.parse(file, file: "jobs.yaml"), in: fixture.state, defaultTimeZone: "UTC").isEmpty)
        let edited =
            file.replacingOccurrences(of: "objects: [vm:b]", with: "objects: [vm:b, vm:c]")
            + "\n---\nname: third\nserver: lab\nrepository: gone\nobjects: [vm:x]\n"
        #expect {
            _ = try JobDocument.plan(try JobDocument.parse(edited, file: "jobs.yaml"), in: fixture.state, defaultTimeZone: "UTC")
        } throws: { "\($0)".contains("no repository is named 'gone'") }
        let twice = file + "\n---\nname: FIRST\nserver: lab\nrepository: main\nobjects: [vm:a]\n"
        #expect {
            _ = try JobDocument.plan(try JobDocument.parse(twice, file: "jobs.yaml"), in: fixture.state, defaultTimeZone: "UTC")
        } throws: { "\($0)".contains("defines job 'FIRST' twice") }
    }

    @Test("a JSON body reads as the same job as its YAML (compact JSON included); JSON errors name the line")
    func json() throws {
        let compact =
            #"{"name":"web","server":"lab","objects":["vm:a","vm:b"],"repository":"main","retry":{"count":2,"wait_minutes":5},"enabled":false,"compression_level":3}"#
        let parsed = try #require(try JobDocument.parse(compact, file: "the body").first)
        #expect(parsed.name == "web" && parsed.objects == ["vm:a", "vm:b"] && parsed.retryCount == 2 && parsed.retryWaitMinutes == 5)
        #expect(parsed.enabled == false && parsed.compressionLevel == 3)
        #expect {
            _ = try JobDocument.parse("{\n\"name\": \"web\",\n\"bogus\": 1\n}", file: "the body")
        } throws: { "\($0)".contains("the body line 3: unknown key 'bogus'") }
    }

    @Test("text nested deeper than a job could be is refused before the YAML reader recurses into it")
    func nesting() throws {
        let hostile = [
            String(repeating: "[", count: 200_000),
            "name: " + String(repeating: "{a: ", count: 50_000),
            String(repeating: "- ", count: 200_000) + "x",
            // A quote inside a plain value does not hide what follows.
            "name: a \"b\nobjects: " + String(repeating: "[", count: 100) + String(repeating: "]", count: 100),
            // Nested aliases: a few hundred bytes that Yams would hash a billion times.
            "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                + (1..<9).map { level in
                    let name = String(UnicodeScalar(UInt8(97 + level)))
                    let previous = String(UnicodeScalar(UInt8(96 + level)))
                    return "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 10).joined(separator: ", ") + "]"
                }.joined(separator: "\n") + "\n? *i\n: 1\n",
            "name: &n web\nserver: *n\n",
        ]
        for text in hostile {
            #expect(throws: CatalogError.self) { _ = try JobDocument.parse(text, file: "the body") }
        }
        // Ordinary text with brackets, dashes and quotes is not nesting.
        let ordinary = """
            name: web # [[[[[[[[[[[[[[[[[[[[ a comment
            description: "a - b - c - d - e - f [[[[[[[[[[[[[[[[[[[[ \\" ]"
            server: lab
            objects:
              - vm:web-01
              - 'vm:it''s [[[[[[[[[[[[[[[[[[[['
            repository: main
            retry:
              count: 3
            """
        let job = try #require(try JobDocument.parse(ordinary, file: "web.yaml").first)
        #expect(job.objects == ["vm:web-01", "vm:it's [[[[[[[[[[[[[[[[[[[["] && job.retryCount == 3)
    }

    @Test("several documents in one file are several jobs")
    func multipleDocuments() throws {
        let jobs = try JobDocument.parse("name: a\n---\nname: b\n", file: "jobs.yaml")
        #expect(jobs.map(\.name) == ["a", "b"])
    }
}
