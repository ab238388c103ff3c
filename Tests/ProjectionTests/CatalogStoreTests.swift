import Catalog
import CatalogStore
import EventStore
import Foundation
import Projections
import TestSupport
import Testing

@Suite("Catalog on the event log")
struct CatalogStoreTests {
    let actor = EventMetadata(actor: "cli:test")

    func addRepository(_ catalog: CatalogStore, _ name: String, path: String = "/srv/backups") async throws -> UUIDString {
        let id = UUID().uuidString.lowercased()
        try await catalog.execute(metadata: actor) { state throws(CatalogError) in
            try CatalogDecider.add(RepositoryDefinition(name: name, path: path), id: id, in: state)
        }
        return id
    }

    @Test("two commands adding the same name at once: one wins, the other is told why")
    func concurrentDuplicate() async throws {
        let database = try await TestDatabase.create()
        // Fewer connections than commands: a command must hold one connection, not two.
        let catalog = CatalogStore(events: database.eventStore(maximumConnections: 2))
        let outcomes = await withTaskGroup(of: Result<UUIDString, any Error>.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    do { return .success(try await addRepository(catalog, "main")) } catch { return .failure(error) }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let wins = outcomes.filter { if case .success = $0 { return true } else { return false } }
        #expect(wins.count == 1)
        for case .failure(let error) in outcomes {
            #expect((error as? CatalogError)?.code == .duplicateName)
        }
        #expect(try await database.eventCount() == 1)
    }

    @Test("a catalog kept in memory takes up what another process appended, and agrees with a fresh fold")
    func keptFoldFollowsTheLog() async throws {
        let database = try await TestDatabase.create()
        let mine = CatalogStore(events: database.eventStore())
        let theirs = CatalogStore(events: database.eventStore())
        let main = try await addRepository(mine, "main")
        #expect(try await mine.load().repositories[main]?.definition.name == "main")
        // Another process adds, changes and removes behind this one's back.
        let second = try await addRepository(theirs, "second")
        let third = try await addRepository(theirs, "third")
        try await theirs.execute(metadata: actor) { state throws(CatalogError) in
            try CatalogDecider.update(id: main, basedOn: nil, in: state) { (repository: inout RepositoryDefinition) in
                repository.path = "/srv/moved"
            }
        }
        try await theirs.execute(metadata: actor) { state throws(CatalogError) in
            try CatalogDecider.remove(RepositoryDefinition.self, id: third, in: state)
        }
        let kept = try await mine.load()
        let fresh = try await CatalogStore(events: database.eventStore()).load()
        #expect(kept.position == fresh.position)
        #expect(kept.repositories.keys.sorted() == [main, second].sorted())
        #expect(kept.repositories[main]?.definition.path == "/srv/moved")
        #expect(kept.repositories.mapValues(\.version) == fresh.repositories.mapValues(\.version))
        #expect(kept.lastNames == fresh.lastNames)
        // A command decided on the kept fold sees the other process's names.
        await #expect(throws: CatalogError.self) { _ = try await addRepository(mine, "second") }
        // The past is still folded from the start.
        let before = try await mine.load(asOf: Date(timeIntervalSince1970: 0))
        #expect(before.repositories.isEmpty)
    }

    @Test("a refused command appends nothing")
    func refusedAppendsNothing() async throws {
        let database = try await TestDatabase.create()
        let catalog = CatalogStore(events: database.eventStore())
        _ = try await addRepository(catalog, "main")
        let before = try await database.eventCount()
        await #expect(throws: CatalogError.self) {
            try await catalog.execute(metadata: actor) { state throws(CatalogError) in
                var settings = JobSettings()
                settings.name = "nightly"
                settings.server = "nowhere"
                settings.objects = ["vm:a"]
                settings.repository = "main"
                return try CatalogDecider.add(
                    try settings.definition(base: nil, in: state, defaultTimeZone: "UTC"), id: UUID().uuidString.lowercased(), in: state)
            }
        }
        await #expect(throws: CatalogError.self) { _ = try await addRepository(catalog, "bad", path: "relative/path") }
        #expect(try await database.eventCount() == before)
    }

    @Test("catalog events written by hand with a bad stream id or bad data are left out, counted, and stop nothing")
    func malformedCatalogEvents() async throws {
        let database = try await TestDatabase.create()
        let store = database.eventStore()
        let catalog = CatalogStore(events: store)
        _ = try await addRepository(catalog, "main")
        try await store.append(to: try StreamName("job-nightly"), events: [try NewEvent(type: "JobAdded", jsonData: #"{"id":"nightly"}"#)])
        try await store.append(
            to: try StreamName("repository-\(UUID().uuidString.lowercased())"),
            events: [try NewEvent(type: "RepositoryAdded", jsonData: #"{"definition":{"name":7}}"#)])
        let state = try await catalog.load()
        #expect(state.repositories.count == 1)
        #expect(state.skippedEvents == 2)
        _ = try await addRepository(catalog, "second")
        let projector = Projector(store: store)
        try await projector.catchUp()
        #expect(try await database.administratorQuery("SELECT count(*) FROM projection.repositories").decode(0, 0, as: Int64.self) == 2)
        #expect(try await projector.verify(StandardProjections.all).isEmpty)
    }

    @Test("--as-of folds the log up to a moment: later changes and removals are not seen")
    func asOf() async throws {
        let database = try await TestDatabase.create()
        let catalog = CatalogStore(events: database.eventStore())
        let id = try await addRepository(catalog, "main", path: "/srv/old")
        let recorded: Date = try await database.administratorQuery("SELECT max(recorded_at) FROM tidemark.events").decode(0, 0)
        try await Task.sleep(for: .milliseconds(20))
        try await catalog.execute(metadata: actor) { state throws(CatalogError) in
            try CatalogDecider.update(id: id, basedOn: 1, in: state) { (repository: inout RepositoryDefinition) in
                repository.path = "/srv/new"
            }
        }
        try await catalog.execute(metadata: actor) { state throws(CatalogError) in
            try CatalogDecider.remove(RepositoryDefinition.self, id: id, in: state)
        }
        #expect(try await catalog.load().repositories.isEmpty)
        let then = try await catalog.load(asOf: recorded)
        #expect(then.repositories[id]?.definition.path == "/srv/old")
        #expect(then.repositories[id]?.updatedBy == "cli:test")
        let history = try await catalog.history(of: .repository, id: id)
        #expect(history.map(\.type) == ["RepositoryAdded", "RepositoryUpdated", "RepositoryRemoved"])
    }
}
