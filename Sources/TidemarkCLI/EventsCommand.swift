import ArgumentParser
import Catalog
import CommandLineSupport
import EventStore
import Foundation
import Postgres
import WorkflowEvents

struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Append to and read the event log.",
        subcommands: [Append.self, Read.self, Tail.self, EventsVerifyCommand.self]
    )

    /// The categories `events append` writes: a namespace of its own. Every other category
    /// is written by its own code path (catalog commands, the Job Manager, the scheduler,
    /// job stop), which checks what it writes; the database refuses categories it does not
    /// know (`tidemark.stream_categories`).
    static let appendNamespace = ["note", "custom"]

    struct Append: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Append one event to a stream of your own (note-* or custom-*).")
        @OptionGroup var options: GlobalOptions
        @Option(help: "The stream: note-<name> or custom-<name> (Tidemark's own streams are written only by the commands that check them).")
        var stream: String
        @Option(help: "The event type, such as NoteWritten.") var type: String
        @Option(help: "The event's data: one JSON object.") var data: String
        @Option(
            name: .customLong("expected-version"),
            help: "Append only if the stream holds exactly this many events (0: a new stream).")
        var expectedVersion: Int64?
        @Option(help: "The event id (a UUID); sending the same id again does not append twice.") var id: String?

        /// Streams other commands own and a malformed id are usage errors.
        func validate() throws {
            let stream: StreamName
            do { stream = try StreamName(self.stream) } catch { throw ValidationError("--stream: \(error)") }
            if let kind = ObjectKind(rawValue: stream.category) {
                throw ValidationError(
                    "'\(stream)' is a \(kind.displayName)'s stream: change it with 'tidemark \(kind.category) add|update|remove', which checks the change before writing it"
                )
            }
            if stream.category == SessionEvent.category {
                throw ValidationError("'\(stream)' is a backup session's stream: only the Job Manager writes sessions")
            }
            if stream.category == ScheduleEvent.category {
                throw ValidationError("'\(stream)' is a job's schedule stream: only the scheduler ('tidemark server') writes it")
            }
            if stream.category == ControlEvent.category {
                throw ValidationError("'\(stream)' is a session's control stream: use 'tidemark job stop', which writes it")
            }
            guard EventsCommand.appendNamespace.contains(stream.category) else {
                throw ValidationError(
                    "'\(stream)' is not a stream 'events append' writes: use note-<name> or custom-<name> (for example note-\(stream.rawValue.split(separator: "-").last.map(String.init) ?? "1"))"
                )
            }
            if let id, UUID(uuidString: id) == nil {
                throw ValidationError("--id '\(id)' is not a UUID (for example 3f2b8c1e-4d5a-4b6c-8d7e-9f0a1b2c3d4e)")
            }
        }

        func run() async throws {
            let stream = try StreamName(self.stream)
            let expected: ExpectedVersion = try expectedVersion.map { try ExpectedVersion.exactly($0) } ?? .any
            let eventID = id.flatMap(UUID.init(uuidString:)) ?? UUID()
            let metadata = EventMetadata(
                correlationID: UUID(), actor: "cli:\(ProcessInfo.processInfo.userName)",
                host: ProcessInfo.processInfo.hostName)
            let event = try NewEvent(id: eventID, type: type, jsonData: data, metadata: metadata)
            let logger = try options.makeLogger()
            let store = try await CatalogDatabase(options: options, logger: logger).openEventStore(maximumConnections: 1)
            let result = try await store.append(to: stream, expectedVersion: expected, events: [event])
            await store.pool.close()
            let position = result.positions.first.map(String.init) ?? "?"
            if result.wasAlreadyStored {
                print("event \(eventID.uuidString.lowercased()) was already stored at position \(position); nothing appended")
            } else {
                print("appended \(type) to \(stream) at position \(position) (stream version \(result.streamVersion))")
            }
        }
    }

    struct Read: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a stream, a category or the whole log.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Read this stream.") var stream: String?
        @Flag(help: "Read the whole log in position order.") var all = false
        @Option(help: "Read every stream of a category (job for job-*) in position order.") var category: String?
        @Option(help: "Start at this stream version (--stream) or after this position (--all, --category).")
        var from: Int64?
        @Option(help: "Print at most this many events.") var limit: Int?
        @Flag(help: "Read the stream newest first.") var backward = false
        @Flag(help: "One JSON object a line.") var json = false

        func validate() throws {
            let chosen = [stream != nil, all, category != nil].filter { $0 }.count
            guard chosen == 1 else {
                throw ValidationError("choose exactly one of --stream NAME, --all or --category NAME")
            }
            if let limit, limit < 1 { throw ValidationError("--limit must be 1 or more, not \(limit)") }
            if let from, from < 0 { throw ValidationError("--from must be 0 or more, not \(from)") }
            if backward && stream == nil { throw ValidationError("--backward reads a stream: give --stream NAME") }
        }

        func run() async throws {
            let streamName = try stream.map { try StreamName($0) }
            let store = try await CatalogDatabase(options: options, logger: try options.makeLogger())
                .openEventStore(maximumConnections: 1)
            return try await withClosing(store) { _ in
                var remaining = limit ?? Int.max
                if let streamName {
                    var version = from ?? (backward ? Int64.max : 1)
                    while remaining > 0 {
                        let events = try await store.readStream(
                            streamName, from: version, direction: backward ? .backward : .forward,
                            limit: Swift.min(remaining, 1_000))
                        for event in events { print(EventPrinter.line(event, json: json)) }
                        remaining -= events.count
                        guard events.count == 1_000, let last = events.last else { break }
                        version = backward ? last.streamVersion - 1 : last.streamVersion + 1
                    }
                    return
                }
                var position = from ?? 0
                while remaining > 0 {
                    let batch = Swift.min(remaining, store.configuration.readBatchSize)
                    let events =
                        if let category {
                            try await store.readCategory(category, after: position, limit: batch)
                        } else {
                            try await store.readAll(after: position, limit: batch)
                        }
                    for event in events { print(EventPrinter.line(event, json: json)) }
                    remaining -= events.count
                    guard events.count == batch, let last = events.last else { break }
                    position = last.position
                }
            }
        }
    }

    struct Tail: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Follow the log and print each event as it is committed, until interrupted.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Start after this position (default: the current end of the log).") var from: Int64?
        @Option(help: "Follow only this category.") var category: String?
        @Flag(help: "One JSON object a line.") var json = false

        func run() async throws {
            let store = try await CatalogDatabase(options: options, logger: try options.makeLogger())
                .openEventStore(maximumConnections: 1)
            let start: Int64
            if let from { start = from } else { start = try await store.headPosition() }
            for try await event in store.subscribe(after: start, category: category) {
                print(EventPrinter.line(event, json: json))
                fflush(nil)
            }
        }
    }
}
