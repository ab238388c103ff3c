import EventStore
import Foundation
import Postgres

/// The channels on the log: folded from the `notify` streams; added and removed under the
/// catalog lock so two commands never both take a name.
public struct NotificationChannels: Sendable {
    public let events: EventStore

    public init(events: EventStore) {
        self.events = events
    }

    /// The live channels, with each stream's version.
    public func load() async throws -> [(channel: NotificationChannel, version: Int64)] {
        try await events.pool.withTransaction { connection in try Self.fold(on: connection) }
    }

    static func fold(on connection: isolated PostgresConnection) throws -> [(channel: NotificationChannel, version: Int64)] {
        var channels: [String: (channel: NotificationChannel, version: Int64)] = [:]
        var position: Int64 = 0
        let decoder = JSONDecoder()
        while true {
            let batch = try EventStore.read(after: position, categories: [NotificationEvent.channelCategory], limit: 1_000, on: connection)
            for event in batch {
                if event.type == "NotificationChannelAdded",
                    let added = try? decoder.decode(NotificationEvent.ChannelAdded.self, from: Data(event.data.utf8))
                {
                    channels[added.channel.id] = (added.channel, event.streamVersion)
                } else if event.type == "NotificationChannelRemoved",
                    let removed = try? decoder.decode(NotificationEvent.ChannelRemoved.self, from: Data(event.data.utf8))
                {
                    channels[removed.id] = nil
                }
            }
            guard let last = batch.last, batch.count == 1_000 else { break }
            position = last.position
        }
        return channels.values.sorted { $0.channel.name.lowercased() < $1.channel.name.lowercased() }
    }

    public func add(_ channel: NotificationChannel, metadata: EventMetadata) async throws {
        try channel.validate()
        let data = try NotificationEvent.json(NotificationEvent.ChannelAdded(channel: channel))
        try await events.pool.withTransaction { connection in
            _ = try connection.query("LOCK TABLE tidemark.catalog_lock IN EXCLUSIVE MODE")
            if try Self.fold(on: connection).contains(where: { $0.channel.name.lowercased() == channel.name.lowercased() }) {
                throw NotificationError(.duplicate, "a channel named '\(channel.name)' exists: see 'tidemark notify list'")
            }
            _ = try EventStore.append(
                [
                    StreamAppend(
                        stream: try StreamName(NotificationEvent.channelStream(channel.id)), expectedVersion: .noStream,
                        events: [try NewEvent(type: "NotificationChannelAdded", jsonData: data, metadata: metadata)])
                ], on: connection)
        }
    }

    public func remove(named name: String, metadata: EventMetadata) async throws {
        try await events.pool.withTransaction { connection in
            _ = try connection.query("LOCK TABLE tidemark.catalog_lock IN EXCLUSIVE MODE")
            let channels = try Self.fold(on: connection)
            guard let found = channels.first(where: { $0.channel.name.lowercased() == name.lowercased() }) else {
                throw NotificationError(
                    .notFound,
                    "no channel is named '\(name)' (known: \(channels.map(\.channel.name).joined(separator: ", ").isEmpty ? "none" : channels.map(\.channel.name).joined(separator: ", "))): see 'tidemark notify list'"
                )
            }
            let data = try NotificationEvent.json(NotificationEvent.ChannelRemoved(id: found.channel.id, name: found.channel.name))
            _ = try EventStore.append(
                [
                    StreamAppend(
                        stream: try StreamName(NotificationEvent.channelStream(found.channel.id)), expectedVersion: .exact(found.version),
                        events: [try NewEvent(type: "NotificationChannelRemoved", jsonData: data, metadata: metadata)])
                ], on: connection)
        }
    }
}
