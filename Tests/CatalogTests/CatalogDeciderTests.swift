import Catalog
import Foundation
import Testing

@Suite("Catalog decisions")
struct CatalogDeciderTests {
    /// A job "nightly" on the standard fixture's lab, backing up one VM to `repository`.
    static func nightly(repository: String) -> JobSettings {
        var settings = JobSettings()
        settings.name = "nightly"
        settings.server = "lab"
        settings.objects = ["vm:web-01"]
        settings.repository = repository
        return settings
    }

    @Test("a duplicate name is refused whatever its case, and nothing is decided")
    func duplicateName() throws {
        var (fixture, _, _, _) = try CatalogFixture.standard()
        #expect {
            try fixture.add(RepositoryDefinition(name: "MAIN", path: "/other"))
        } throws: { error in
            (error as? CatalogError)?.code == .duplicateName && "\(error)".contains("'main' already exists")
        }
        #expect(fixture.state.repositories.count == 1)
    }

    @Test("a job naming an unknown repository or proxy is refused")
    func unknownReferences() throws {
        let (fixture, _, _, _) = try CatalogFixture.standard()
        var settings = Self.nightly(repository: "nowhere")
        #expect {
            _ = try settings.definition(base: nil, in: fixture.state, defaultTimeZone: "UTC")
        } throws: { error in
            (error as? CatalogError)?.code == .notFound && "\(error)".contains("no repository is named 'nowhere' (known: main)")
        }
        settings.repository = "main"
        settings.proxies = ["proxy-a", "proxy-z"]
        #expect {
            _ = try settings.definition(base: nil, in: fixture.state, defaultTimeZone: "UTC")
        } throws: { error in
            "\(error)".contains("no proxy is named 'proxy-z'")
        }
    }

    @Test(
        "retention below the minimum and other bad values are refused",
        arguments: [
            ("retention", "2 restore points", "below the minimum of 3"),
            ("retention", "0 days", "below the minimum of 1 day"),
            ("retention", "7 weeks", "'weeks' is not a unit"),
            ("block_size", "3M", "not offered"),
            ("time_zone", "Mars/Olympus", "not a time zone"),
            ("objects", "galaxy:andromeda", "names no object kind"),
        ])
    func badValues(field: String, value: String, reason: String) throws {
        let (fixture, _, _, _) = try CatalogFixture.standard()
        var settings = Self.nightly(repository: "main")
        switch field {
        case "retention": settings.retention = value
        case "block_size": settings.blockSize = value
        case "time_zone": settings.timeZone = value
        default: settings.objects = [value]
        }
        #expect {
            let job = try settings.definition(base: nil, in: fixture.state, defaultTimeZone: "UTC")
            _ = try CatalogDecider.add(job, id: UUID().uuidString.lowercased(), in: fixture.state)
        } throws: { error in
            "\(error)".contains(reason)
        }
    }

    @Test("a job may not follow itself, directly or through a cycle")
    func chainCycles() throws {
        var (fixture, server, repository, _) = try CatalogFixture.standard()
        let a = try fixture.add(fixture.job("a", server: server, repository: repository))
        let b = try fixture.add(fixture.job("b", server: server, repository: repository, schedule: .after(job: a)))
        let c = try fixture.add(fixture.job("c", server: server, repository: repository, schedule: .after(job: b)))
        #expect {
            try fixture.commit(
                try CatalogDecider.update(id: a, basedOn: nil, in: fixture.state) { (job: inout JobDefinition) in
                    job.schedule = .after(job: a)
                })
        } throws: { error in
            (error as? CatalogError)?.code == .scheduleCycle && "\(error)".contains("would start after itself")
        }
        #expect {
            try fixture.commit(
                try CatalogDecider.update(id: a, basedOn: nil, in: fixture.state) { (job: inout JobDefinition) in
                    job.schedule = .after(job: c)
                })
        } throws: { error in
            "\(error)".contains("a → c → b → a")
        }
        #expect(fixture.state.jobs[a]?.definition.schedule == .manual)
    }

    @Test("an update based on any version but the current one is refused as stale, naming what changed since")
    func staleVersions() throws {
        var (fixture, server, repository, _) = try CatalogFixture.standard()
        let id = try fixture.add(fixture.job("nightly", server: server, repository: repository))
        #expect(fixture.state.jobs[id]?.version == 1)
        try fixture.commit(
            try CatalogDecider.update(id: id, basedOn: 1, in: fixture.state) { (job: inout JobDefinition) in
                job.description = "web servers"
            })
        // Based on version 1, changing another field: refused all the same (no silent merge).
        #expect {
            _ = try CatalogDecider.update(id: id, basedOn: 1, in: fixture.state) { (job: inout JobDefinition) in
                job.compressionLevel = 9
            }
        } throws: { error in
            (error as? CatalogError)?.code == .staleVersion && "\(error)".contains("changed since version 1 (now 2) in description")
                && "\(error)".contains("--expected-version 2")
        }
        #expect(fixture.state.jobs[id]?.definition.compressionLevel != 9)
        try fixture.commit(
            try CatalogDecider.update(id: id, basedOn: 2, in: fixture.state) { (job: inout JobDefinition) in
                job.compressionLevel = 9
            })
        #expect(fixture.state.jobs[id]?.definition.description == "web servers")
        #expect(fixture.state.jobs[id]?.definition.compressionLevel == 9)
        #expect {
            _ = try CatalogDecider.update(id: id, basedOn: 9, in: fixture.state) { (job: inout JobDefinition) in
                job.description = "x"
            }
        } throws: { error in
            "\(error)".contains("version 9 does not exist yet")
        }
    }

    @Test("a job's rename and switch-off are events of their own, the rest one update")
    func jobUpdateEvents() throws {
        var (fixture, server, repository, _) = try CatalogFixture.standard()
        let id = try fixture.add(fixture.job("nightly", server: server, repository: repository))
        let changes = try CatalogDecider.update(id: id, basedOn: nil, in: fixture.state) { (job: inout JobDefinition) in
            job.name = "nightly-web"
            job.enabled = false
            job.retention = JobRetention(count: 14, unit: .days)
        }
        #expect(changes.map(\.eventType) == ["JobRenamed", "JobDisabled", "JobUpdated"])
        #expect(changes.map(\.expectedVersion) == [1, 2, 3])
        try fixture.commit(changes)
        let job = try #require(fixture.state.jobs[id])
        #expect(job.definition.name == "nightly-web" && !job.definition.enabled && job.version == 4)
        #expect(throws: CatalogError.self) {
            _ = try CatalogDecider.update(id: id, basedOn: nil, in: fixture.state) { (job: inout JobDefinition) in job.enabled = false }
        }
    }

    @Test("an object in use cannot be removed; the message names its users")
    func removeInUse() throws {
        var (fixture, server, repository, proxy) = try CatalogFixture.standard()
        var job = fixture.job("nightly", server: server, repository: repository)
        job.proxies = [proxy]
        let jobID = try fixture.add(job)
        #expect {
            _ = try CatalogDecider.remove(RepositoryDefinition.self, id: repository, in: fixture.state)
        } throws: { error in
            (error as? CatalogError)?.code == .inUse && "\(error)".contains("job 'nightly'")
        }
        try fixture.commit(try CatalogDecider.remove(JobDefinition.self, id: jobID, in: fixture.state))
        try fixture.commit(try CatalogDecider.remove(ProxyDefinition.self, id: proxy, in: fixture.state))
        #expect(fixture.state.jobs.isEmpty && fixture.state.proxies.isEmpty)
        #expect(fixture.state.label(.job, jobID) == "'nightly'")
    }

    @Test("secrets are references, never values; bad server settings are refused")
    func servers() throws {
        var fixture = CatalogFixture()
        #expect(throws: CatalogError.self) { _ = try SecretReference(parsing: "hunter2") }
        #expect(throws: CatalogError.self) { _ = try SecretReference(parsing: "env:1BAD") }
        let good = ManagedServer(
            name: "vc", platform: .vcenter, url: "https://vc.example.com", user: "backup@vsphere.local",
            passwordReference: try SecretReference(parsing: "env:VC_PASSWORD"), thumbprint: String(repeating: "ab:", count: 31) + "ab")
        let id = try fixture.add(good)
        #expect(fixture.state.servers[id]?.definition.thumbprint == String(repeating: "AB", count: 32))
        let noUser = ManagedServer(
            name: "vc2", platform: .vcenter, url: "https://vc2", passwordReference: try SecretReference(parsing: "env:X"))
        #expect { try fixture.add(noUser) } throws: { "\($0)".contains("needs a user name") }
        let badPrint = ManagedServer(
            name: "vc3", platform: .vcenter, url: "https://vc3", user: "u", passwordReference: try SecretReference(parsing: "env:X"),
            thumbprint: "1234")
        #expect { try fixture.add(badPrint) } throws: { "\($0)".contains("not a SHA-256 thumbprint") }
        #expect { try fixture.add(ManagedServer(name: "lab", platform: .lab, folder: "relative")) } throws: {
            "\($0)".contains("absolute path")
        }
        let leaky = ManagedServer(
            name: "vc4", platform: .vcenter, url: "https://admin:hunter2@vc4", user: "u",
            passwordReference: try SecretReference(parsing: "env:X"))
        #expect {
            try fixture.add(leaky)
        } throws: { error in
            "\(error)".contains("carries a user, password") && !"\(error)".contains("hunter2")
        }
    }

    @Test("throttling rules need a real rate and existing targets")
    func throttling() throws {
        var (fixture, _, repository, proxy) = try CatalogFixture.standard()
        #expect(try Rate.parse("100MB/s") == 100_000_000)
        #expect(try Rate.parse("800 Mbit/s") == 100_000_000)
        #expect { _ = try Rate.parse("fast") } throws: { "\($0)".contains("has no unit") }
        #expect { _ = try Rate.parse("0Mbps") } throws: { "\($0)".contains("not a positive number") }
        #expect { _ = try Rate.parse("100Mb/s") } throws: { "\($0)".contains("unambiguously") }
        #expect { _ = try Rate.parse("1e13GB/s") } throws: { "\($0)".contains("above the largest rate") }
        #expect(try Rate.parse("100MiB/s") == 104_857_600)
        #expect { _ = try JobSettings.parseBlockSize("9999999999999999K") } throws: { "\($0)".contains("not offered") }
        try fixture.add(
            ThrottlingRule(
                name: "wan", sourceProxies: [proxy], targetRepositories: [repository], bytesPerSecond: 12_500_000,
                window: try TimeWindow(parsing: "08:00-18:00")))
        #expect {
            try fixture.add(ThrottlingRule(name: "bad", targetRepositories: ["0000"], bytesPerSecond: 12_500_000))
        } throws: { "\($0)".contains("target repository 0000 does not exist") }
    }
}
