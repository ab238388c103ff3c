import ArgumentParser
import Catalog
import CommandLineSupport
import EventStore
import Foundation
import Postgres
import Replay
import WorkflowEvents

/// `tidemark session replay ID`: the session (a backup or a restore) told again from its events — every step and
/// decision at its time from the start, one lane per task — paced with `--speed`, or frozen
/// at one instant with `--at`.
struct SessionReplay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay a session from its events: a timeline of every step and decision, one lane per task.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The session's id (or its first characters).") var id: String
    @Option(help: "Play it paced, N times faster than it happened (omit for all at once).") var speed: Double?
    @Option(help: ArgumentHelp("Show the state at this many seconds from the start instead of the timeline.", valueName: "seconds"))
    var at: Double?

    func validate() throws {
        if let speed, !(speed >= 0.01 && speed <= 1_000_000) { throw ValidationError("--speed must be from 0.01 to 1000000, such as 10") }
        if let at, at < 0 { throw ValidationError("--at counts seconds from the session's start: give 0 or more") }
    }

    func run() async throws {
        let logger = try options.makeLogger()
        let store = try await CatalogDatabase(options: options, logger: logger).openEventStore(maximumConnections: 1)
        return try await withClosing(store) { _ in
            var matches = try await store.streams(
                category: SessionEvent.category, prefix: SessionEvent.stream(of: id.lowercased()), limit: 2)
            if matches.isEmpty {
                matches = try await store.streams(
                    category: RestoreEvent.category, prefix: RestoreEvent.stream(of: id.lowercased()), limit: 2)
            }
            guard matches.count == 1 else {
                throw ValidationError(
                    matches.isEmpty
                        ? "no session starts with '\(id)': see 'tidemark session list'"
                        : "'\(id)' matches several sessions: give more of the id")
            }
            let events = try await store.readStream(try StreamName(matches[0]), limit: 1_000_000)
            guard let first = events.first else { return }
            var lanes: [String] = []
            func lane(_ task: String) -> Int {
                if let index = lanes.firstIndex(of: task) { return index }
                lanes.append(task)
                return lanes.count - 1
            }
            if let at {
                print(SessionTimeline.state(of: events.filter { $0.recordedAt.timeIntervalSince(first.recordedAt) <= at }, at: at))
                return
            }
            var previous = 0.0
            for event in events {
                let offset = event.recordedAt.timeIntervalSince(first.recordedAt)
                if let speed, offset > previous {
                    try await Task.sleep(for: .milliseconds(Int(min((offset - previous) / speed * 1_000, 600_000))))
                }
                previous = offset
                let task = SessionTimeline.task(of: event)
                let indent = task.map { String(repeating: "    ", count: min(lane($0), 12)) } ?? ""
                print(String(format: "+%8.3fs ", offset) + indent + SessionTimeline.describe(event, task: task))
            }
        }
    }
}
