import Catalog
import Foundation

/// A catalog built by folding events the decider produced, as the store would.
struct CatalogFixture {
    var state = CatalogState()
    var position: Int64 = 0
    var clock = Date(timeIntervalSince1970: 1_790_000_000)

    mutating func commit(_ changes: [CatalogChange], actor: String = "test") throws {
        for change in changes {
            position += 1
            clock = clock.addingTimeInterval(60)
            let version = (state.entriesVersion(change.kind, change.id)) + 1
            state.apply(
                CatalogEventRecord(
                    stream: change.stream, streamVersion: version, position: position, type: change.eventType, data: change.data,
                    recordedAt: clock, actor: actor))
        }
    }

    @discardableResult
    mutating func add<D: CatalogDefinition>(_ definition: D) throws -> UUIDString {
        let id = UUID().uuidString.lowercased()
        try commit(try CatalogDecider.add(definition, id: id, in: state))
        return id
    }

    /// A lab server, a repository and a proxy: what every job needs.
    static func standard() throws -> (CatalogFixture, server: UUIDString, repository: UUIDString, proxy: UUIDString) {
        var fixture = CatalogFixture()
        let server = try fixture.add(ManagedServer(name: "lab", platform: .lab, folder: "/srv/lab"))
        let repository = try fixture.add(RepositoryDefinition(name: "main", path: "/srv/backups"))
        let proxy = try fixture.add(ProxyDefinition(name: "proxy-a"))
        return (fixture, server, repository, proxy)
    }

    func job(_ name: String, server: UUIDString, repository: UUIDString, schedule: Schedule = .manual) -> JobDefinition {
        JobDefinition(
            name: name, server: server, objects: [try! ObjectSelector(parsing: "vm:web-01")], repository: repository, schedule: schedule)
    }
}

extension CatalogState {
    func entriesVersion(_ kind: ObjectKind, _ id: UUIDString) -> Int64 {
        switch kind {
        case .server: return servers[id]?.version ?? 0
        case .repository: return repositories[id]?.version ?? 0
        case .proxy: return proxies[id]?.version ?? 0
        case .throttle: return throttlingRules[id]?.version ?? 0
        case .job: return jobs[id]?.version ?? 0
        }
    }
}
