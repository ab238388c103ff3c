import ArgumentParser
import EventStore
import Foundation
import Logging

/// The README's first command. Until the Job Manager exists it proves the foundation end to
/// end on the embedded default: a backup session's worth of events is appended, followed
/// live, read back, verified, and appended again to show that a retry writes nothing.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run an event-store round trip on the embedded default (or the configured database).")
    @OptionGroup var options: GlobalOptions

    struct Step: Codable {
        let session: String
        let step: Int
        let name: String
        let detail: String
    }

    func run() async throws {
        let logger = try options.makeLogger()
        let started = ContinuousClock.now
        let database = try CatalogDatabase(options: options, logger: logger)
        if let cluster = database.privateCluster {
            print("catalog: private PostgreSQL cluster in \(cluster.dataDirectory.path)")
        } else {
            print("catalog: configured PostgreSQL database")
        }
        let store = try await database.openEventStore()
        let sessionID = UUID()
        let stream = try StreamName("session-\(sessionID.uuidString.lowercased())")
        let metadata = EventMetadata(
            correlationID: sessionID, actor: "cli:demo", host: ProcessInfo.processInfo.hostName)
        let steps = [
            ("SessionStarted", "job demo-nightly, trigger manual"),
            ("ObjectsEnumerated", "3 VMs in job order"),
            ("RepositoryChecked", "online, free space above threshold, 1 of 4 task slots used"),
            ("ProxySelected", "proxy-1: hot-add, same cluster, lowest load"),
            ("SnapshotRequested", "tidemark-\(sessionID.uuidString.prefix(8).lowercased())-task-1"),
            ("SnapshotCreated", "snapshot-42"),
            ("TransferCheckpointed", "offset 256 MiB of 1 GiB"),
            ("SnapshotRemoved", "snapshot-42"),
            ("SessionFinished", "Success"),
        ]
        let events = try steps.enumerated().map { index, step in
            try NewEvent(
                type: step.0,
                payload: Step(session: sessionID.uuidString.lowercased(), step: index + 1, name: step.0, detail: step.1),
                metadata: metadata)
        }

        let head = try await store.headPosition()
        let follower = Task {
            var seen: [RecordedEvent] = []
            for try await event in store.subscribe(after: head, category: "session") where event.stream == stream.rawValue {
                seen.append(event)
                if seen.count == events.count { break }
            }
            return seen
        }

        var version: Int64 = 0
        for event in events {
            let result = try await store.append(to: stream, expectedVersion: .exact(version), events: [event])
            version = result.streamVersion
        }
        let retry = try await store.append(to: stream, expectedVersion: .exact(0), events: [events[0]])
        let readBack = try await store.readStream(stream)
        let followed = try await follower.value
        await store.pool.close()

        let appendedIDs = events.map(\.id)
        guard readBack.map(\.id) == appendedIDs, readBack.map(\.streamVersion) == Array(1...Int64(events.count)),
            followed.map(\.id) == appendedIDs, retry.wasAlreadyStored,
            retry.positions.first == readBack.first?.position
        else {
            throw ValidationError("the round trip did not read back what it appended: the event store is broken")
        }
        print("session \(sessionID.uuidString.lowercased()):")
        for event in readBack { print("  " + EventPrinter.textLine(event)) }
        let elapsed = ContinuousClock.now - started
        print(
            """
            appended \(events.count) events at positions \(readBack.first!.position)...\(readBack.last!.position), \
            followed all \(followed.count) live, read them back in order, \
            and a retried append returned position \(retry.positions[0]) without writing (\(elapsed.formatted(.units(allowed: [.seconds, .milliseconds], width: .abbreviated))))
            round trip OK
            """)
    }
}
