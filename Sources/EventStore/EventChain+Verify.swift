import Crypto
import Foundation
import Postgres

extension EventChain {
    /// What a verification found: the events it checked, and the first break.
    public struct Verification: Sendable, Codable {
        /// The chain head the walk went up to (nil: an empty log).
        public let head: Head?
        public let eventsChecked: Int64
        public let seconds: Double
        /// The first position where the log and its chain disagree; nil when they agree.
        public let broken: Break?
        public let eventsPerSecond: Double

        init(head: Head?, eventsChecked: Int64, seconds: Double, broken: Break?) {
            self.head = head
            self.eventsChecked = eventsChecked
            self.seconds = seconds
            self.broken = broken
            self.eventsPerSecond = seconds > 0 ? Double(eventsChecked) / seconds : 0
        }
    }

    /// Where and how the log stops matching its chain.
    public struct Break: Sendable, Codable, Equatable, CustomStringConvertible {
        public enum Kind: String, Sendable, Codable {
            /// The event's content no longer matches the digest recorded when it was appended.
            case edited
            /// An event the chain went through is gone: the next one follows a hash the log no longer holds.
            case missing
            /// The event is not linked to the one before it, and nothing after it shows why:
            /// put there behind the append functions' back.
            case unchained
            /// The event's chain hash alone was changed: the event after it follows the hash it should have.
            case chainRewritten = "chain rewritten"
        }

        public let position: Int64
        public let kind: Kind
        public let detail: String

        public var description: String { "position \(position): \(kind.rawValue): \(detail)" }
    }

    /// Walks the log from `position` (exclusive; 0 for the whole log, whose first event must
    /// follow the zero hash; a later start trusts the chain hash stored at or before it) up
    /// to the head read first, recomputing every event's digest and link, and stops at the
    /// first position where they disagree. Events appended after the head was read are left
    /// for the next walk.
    public static func verify(
        _ store: EventStore, after position: Int64 = 0, pageSize: Int = 10_000
    ) async throws
        -> Verification
    {
        let started = ContinuousClock.now
        guard let head = try await head(of: store) else {
            return Verification(head: nil, eventsChecked: 0, seconds: (ContinuousClock.now - started).seconds, broken: nil)
        }
        var walk = Walk(store: store, last: head.position, pageSize: pageSize)
        if position > 0 { try await walk.start(after: position) }
        let broken = try await walk.run()
        return Verification(
            head: head, eventsChecked: walk.eventsChecked, seconds: (ContinuousClock.now - started).seconds, broken: broken)
    }

    /// One event as the walk reads it.
    struct Link {
        let position: Int64
        /// The digest recomputed here from the event's columns.
        let computed: [UInt8]
        let digest: [UInt8]
        let hash: [UInt8]
    }

    /// The walk: events read in pages, in position order, one event of look-ahead to tell a
    /// rewritten link or an inserted event from a deleted one.
    struct Walk {
        let store: EventStore
        let last: Int64
        let pageSize: Int
        var eventsChecked: Int64 = 0

        /// The last event checked (its position and hash) and the hash before it; nil before
        /// the log's first event.
        private var previous: (position: Int64, hash: [UInt8])?
        private var beforePrevious: [UInt8]?
        private var page: [Link] = []
        private var index = 0
        /// The position after which the next page is read.
        private var readAfter: Int64 = 0
        private var done = false

        init(store: EventStore, last: Int64, pageSize: Int) {
            self.store = store
            self.last = last
            self.pageSize = max(2, pageSize)
        }

        /// Starts after `position`, trusting the chain hashes stored there.
        mutating func start(after position: Int64) async throws {
            let result = try await store.pool.query(EventChainStatements.before, [position])
            readAfter = position
            // No event at or before it: the walk starts at the log's first event, after the zero hash.
            guard result.rowCount > 0 else { return }
            previous = (try result.decode(0, 0), try Self.bytes(result, 0, 1))
            if result.rowCount > 1 { beforePrevious = try Self.bytes(result, 1, 1) }
        }

        mutating func run() async throws -> Break? {
            while let event = try await peek(0) {
                let linkedTo = previous?.hash ?? EventChain.genesis
                if event.computed != event.digest {
                    return Break(
                        position: event.position, kind: .edited,
                        detail: "the event no longer matches the digest recorded when it was appended (edited)")
                }
                if Self.link(linkedTo, event.digest) != event.hash {
                    return try await explain(event, expected: Self.link(linkedTo, event.digest), linkedTo: linkedTo)
                }
                beforePrevious = previous?.hash
                previous = (event.position, event.hash)
                eventsChecked += 1
                index += 1
            }
            return nil
        }

        /// Why `event` does not follow the event before it, from its neighbours.
        private mutating func explain(_ event: Link, expected: [UInt8], linkedTo: [UInt8]) async throws -> Break {
            let next = try await peek(1)
            if let next, Self.link(linkedTo, next.digest) == next.hash {
                return Break(
                    position: event.position, kind: .unchained,
                    detail: "the event after it follows the one before it: this event was inserted behind the append functions' back")
            }
            if let previous, let beforePrevious, Self.link(beforePrevious, event.digest) == event.hash {
                return Break(
                    position: previous.position, kind: .unchained,
                    detail: "the event after it follows the one before it: this event was inserted behind the append functions' back")
            }
            if let next, Self.link(expected, next.digest) == next.hash {
                return Break(
                    position: event.position, kind: .chainRewritten,
                    detail: "its chain hash was changed; the event after it follows the hash it should have")
            }
            if let previous, event.position > previous.position + 1 {
                return Break(
                    position: previous.position + 1, kind: .missing,
                    detail:
                        "the event at \(event.position) does not follow the one at \(previous.position): an event between them was deleted")
            }
            return Break(
                position: event.position, kind: .unchained,
                detail: "the event does not follow the one before it: inserted behind the append functions' back, or its link rewritten")
        }

        static func link(_ previous: [UInt8], _ digest: [UInt8]) -> [UInt8] {
            var hasher = SHA256()
            hasher.update(data: previous)
            hasher.update(data: digest)
            return Array(hasher.finalize())
        }

        /// The event `offset` places ahead of the walk, reading the next page when needed.
        private mutating func peek(_ offset: Int) async throws -> Link? {
            if index + offset >= page.count, !done {
                page.removeFirst(index)
                index = 0
                let result = try await store.pool.query(EventChainStatements.events, [readAfter, last, pageSize])
                for row in 0..<result.rowCount {
                    page.append(
                        Link(
                            position: try result.decode(row, 0),
                            computed: Array(SHA256.hash(data: try result.decode(row, 1, as: RawField.self).bytes)),
                            digest: try Self.bytes(result, row, 2), hash: try Self.bytes(result, row, 3)))
                }
                done = result.rowCount < pageSize
                if let final = page.last { readAfter = final.position }
            }
            return index + offset < page.count ? page[index + offset] : nil
        }

        private static func bytes(_ result: PostgresResult, _ row: Int, _ column: Int) throws -> [UInt8] {
            guard let value = try result.decode(row, column, as: RawField.self).hexDecoded else {
                throw PostgresError(.decoding, message: "an event's chain column is not a bytea in hex output", statement: result.statement)
            }
            return value
        }
    }
}

extension Duration {
    fileprivate var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
