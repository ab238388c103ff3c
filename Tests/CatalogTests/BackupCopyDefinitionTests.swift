import Catalog
import Foundation
import Testing

/// Backup copy jobs as people write them: made from a few settings, refused with the reason
/// when they could not work, and read back from their exported document unchanged.
@Suite("Backup copy job definitions")
struct BackupCopyDefinitionTests {
    static func world() throws -> (CatalogFixture, source: UUIDString, offsite: UUIDString) {
        var (fixture, server, repository, _) = try CatalogFixture.standard()
        let source = try fixture.add(fixture.job("nightly", server: server, repository: repository))
        let offsite = try fixture.add(RepositoryDefinition(name: "offsite", path: "/srv/offsite"))
        return (fixture, source, offsite)
    }

    static func settings(_ change: (inout JobSettings) -> Void) -> JobSettings {
        var settings = JobSettings()
        settings.name = "offsite-copy"
        settings.copyOf = "nightly"
        settings.repository = "offsite"
        change(&settings)
        return settings
    }

    @Test("an immediate copy follows every session of its source; a periodic one keeps its schedule; both read back from their document")
    func made() throws {
        var (fixture, source, offsite) = try Self.world()
        let immediate = try Self.settings { $0.gfs = "weekly 4, monthly 12, yearly 3" }.definition(
            base: nil, in: fixture.state, defaultTimeZone: "UTC")
        #expect(immediate.copy == BackupCopy(source: source, mode: .immediate, gfs: GFSRetention(weekly: 4, monthly: 12, yearly: 3)))
        #expect(immediate.schedule == .after(job: source) && immediate.objects.isEmpty && immediate.repository == offsite)
        try immediate.validate(in: fixture.state)
        let periodic = try Self.settings {
            $0.name = "weekly-copy"
            $0.copyMode = "periodic"
            $0.schedule = "daily at 06:00"
        }.definition(base: nil, in: fixture.state, defaultTimeZone: "UTC")
        try periodic.validate(in: fixture.state)
        for job in [immediate, periodic] {
            let id = try fixture.add(job)
            let text = JobDocument.export(JobSettings(try #require(fixture.state.jobs[id]).definition, in: fixture.state))
            #expect(text.contains("copy_of: nightly") && !text.contains("objects"), "\(text)")
            var renamed = try JobDocument.parse(text, file: "copy.yaml")[0]
            renamed.name = job.name + "-again"
            var reread = try renamed.definition(base: nil, in: fixture.state, defaultTimeZone: "UTC")
            reread.name = job.name
            #expect(reread == job, "exported:\n\(text)")
            // Applied to itself, it changes nothing.
            #expect(
                try JobDocument.parse(text, file: "copy.yaml")[0].definition(base: job, in: fixture.state, defaultTimeZone: "UTC") == job)
        }
    }

    @Test("what could not work is refused with what to do")
    func refused() throws {
        var (fixture, _, _) = try Self.world()
        func refusal(_ settings: JobSettings, base: JobDefinition? = nil) -> String? {
            do {
                let job = try settings.definition(base: base, in: fixture.state, defaultTimeZone: "UTC")
                try job.validate(in: fixture.state)
                return nil
            } catch {
                return error.message
            }
        }
        #expect(refusal(Self.settings { $0.repository = "main" })?.contains("a copy there is no second copy") == true)
        #expect(refusal(Self.settings { $0.schedule = "daily at 06:00" })?.contains("--mode periodic") == true)
        #expect(refusal(Self.settings { $0.objects = ["vm:web-01"] })?.contains("copies every VM of 'nightly'") == true)
        #expect(refusal(Self.settings { $0.copyMode = "sometimes" })?.contains("not one of immediate, periodic") == true)
        #expect(refusal(Self.settings { $0.copyOf = "nightlyy" }) != nil)
        let copy = try Self.settings { _ in }.definition(base: nil, in: fixture.state, defaultTimeZone: "UTC")
        try fixture.add(copy)
        #expect(
            refusal(
                Self.settings {
                    $0.name = "copy-of-copy"
                    $0.copyOf = "offsite-copy"
                })?.contains("is a copy job itself") == true)
        let backup = try #require(fixture.state.jobs.values.first { $0.definition.name == "nightly" }?.definition)
        var gfsOnBackup = JobSettings()
        gfsOnBackup.gfs = "weekly 4"
        #expect(refusal(gfsOnBackup, base: backup)?.contains("is a backup job") == true)
        var turnIntoCopy = JobSettings()
        turnIntoCopy.copyOf = "nightly"
        #expect(refusal(turnIntoCopy, base: backup)?.contains("fixed when it is added") == true)
    }
}
