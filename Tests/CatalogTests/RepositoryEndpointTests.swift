import Catalog
import Foundation
import Testing

/// A repository that is a repository service: its address, pinned thumbprint and token file
/// checked like a vCenter's, never a folder and a service at once, and switching between the
/// two through the same changes `repository update` applies.
@Suite("Catalog: repositories that are a repository service")
struct RepositoryEndpointTests {
    static let thumbprint = String(repeating: "ab:", count: 31) + "ab"

    static func service(
        url: String = "https://10.0.0.2:9420", thumbprint: String = thumbprint, token: String? = "/var/lib/tidemark/secrets/offsite.token"
    )
        throws -> RepositoryEndpoint
    {
        RepositoryEndpoint(url: url, thumbprint: thumbprint, tokenReference: try token.map { try SecretReference(source: .file, name: $0) })
    }

    @Test("a good service is added, its thumbprint kept as 64 upper-case digits, its folder empty")
    func added() throws {
        var (fixture, _, _, _) = try CatalogFixture.standard()
        try fixture.add(RepositoryDefinition(name: "offsite", path: "", service: try Self.service()))
        let repository = try #require(fixture.state.repositories.values.first { $0.definition.name == "offsite" }?.definition)
        #expect(repository.isRemote && repository.folderURL == nil && repository.service?.thumbprint == String(repeating: "AB", count: 32))
        #expect(repository.remoteRefusal("a backup").contains("https://10.0.0.2:9420"))
    }

    @Test("a bad address, thumbprint or token reference, a folder beside a service, or scheduled checks are refused")
    func refused() throws {
        var (fixture, _, _, _) = try CatalogFixture.standard()
        let cases: [(RepositoryDefinition, String)] = [
            (RepositoryDefinition(name: "a", path: "", service: try Self.service(url: "http://10.0.0.2:9420")), "https://HOST[:PORT]"),
            (RepositoryDefinition(name: "b", path: "", service: try Self.service(url: "https://user:pw@10.0.0.2")), "https://HOST[:PORT]"),
            (RepositoryDefinition(name: "c", path: "", service: try Self.service(url: "https://10.0.0.2/x?y")), "https://HOST[:PORT]"),
            (RepositoryDefinition(name: "d", path: "", service: try Self.service(thumbprint: "abc")), "SHA-256 thumbprint"),
            (RepositoryDefinition(name: "e", path: "", service: try Self.service(token: nil)), "--token-file"),
            (RepositoryDefinition(name: "f", path: "/srv/f", service: try Self.service()), "not both"),
        ]
        for (definition, message) in cases {
            #expect("\(definition.name)", performing: { try fixture.add(definition) }, throws: { "\($0)".contains(message) })
        }
        #expect(fixture.state.repositories.count == 1, "nothing refused was added")
        // Scheduled health checks of a service: the service re-hashes on its own host.
        var checked = RepositoryDefinition(name: "g", path: "", service: try Self.service())
        checked.verifyEveryDays = 7
        try fixture.add(checked)
        #expect(fixture.state.repositories.count == 2)
    }

    @Test("changes switch a repository between a folder and a service, keeping the parts not given")
    func changes() throws {
        var repository = RepositoryDefinition(name: "r", path: "/srv/r")
        var toService = RepositoryChanges()
        toService.serviceURL = "https://10.0.0.2:9420"
        toService.serviceThumbprint = Self.thumbprint
        toService.serviceToken = try SecretReference(source: .file, name: "/var/lib/tidemark/secrets/r.token")
        toService.apply(to: &repository)
        #expect(repository.path.isEmpty && repository.service?.url == "https://10.0.0.2:9420")
        var newAddress = RepositoryChanges()
        newAddress.serviceURL = "https://10.0.0.3:9420"
        newAddress.apply(to: &repository)
        #expect(
            repository.service?.url == "https://10.0.0.3:9420"
                && repository.service?.tokenReference?.name == "/var/lib/tidemark/secrets/r.token")
        var toFolder = RepositoryChanges()
        toFolder.path = "/srv/r2"
        toFolder.apply(to: &repository)
        #expect(repository.path == "/srv/r2" && repository.service == nil)
    }
}
