import Crypto
import Foundation
import Postgres

extension EventChain {
    /// What a verification found: the events and rows it checked, and the first break.
    public struct Verification: Sendable, Codable {
        /// The chain head the walk went up to (nil: an empty log).
        public let head: Head?
        public let eventsChecked: Int64
        public let rowsChecked: Int64
        public let seconds: Double
        /// The first position where the log and its chain disagree; nil when they agree.
        public let broken: Break?
        public let eventsPerSecond: Double

        init(head: Head?, eventsChecked: Int64, rowsChecked: Int64, seconds: Double, broken: Break?) {
            self.head = head
            self.eventsChecked = eventsChecked
            self.rowsChecked = rowsChecked
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
            /// The chain records an event at this position; the log has none.
            case missing
            /// The log has an event at this position that no chain row records.
            case unchained
            /// A chain row does not follow the row before it, or its hash does not match its digests.
            case chainRewritten = "chain rewritten"
        }

        public let position: Int64
        public let kind: Kind
        public let detail: String

        public var description: String { "position \(position): \(kind.rawValue): \(detail)" }
    }

    /// Walks the chain from `position` (exclusive; 0 for the whole log, which also checks the
    /// first row follows the zero hash; a later start trusts the first row's previous hash
    /// and begins at the start of the row that holds it) up to the head read first, recomputing every event's digest and every row's hash, and stops at the first
    /// position where they disagree. Events appended after the head was read are left for
    /// the next walk (their rows are not part of this one).
    public static func verify(_ store: EventStore, after position: Int64 = 0, pageSize: Int = 10_000) async throws
        -> Verification
    {
        let started = ContinuousClock.now
        guard let head = try await head(of: store) else {
            let stray = try await store.pool.query(EventChainStatements.events, [position, Int64.max, 1])
            let broken = try stray.rowCount == 0
                ? nil
                : Break(position: stray.decode(0, 0), kind: .unchained, detail: "the log holds events but the chain has no row")
            return Verification(
                head: nil, eventsChecked: 0, rowsChecked: 0, seconds: (ContinuousClock.now - started).seconds, broken: broken)
        }
        // A start inside a row moves back to the row's beginning: digests are checked row by row.
        var start = position
        if position > 0 {
            let row = try await store.pool.query(EventChainStatements.rowContaining, [position])
            if row.rowCount == 1 { start = min(position, try row.decode(0, 0, as: Int64.self) - 1) }
        }
        var walk = Walk(store: store, start: start, last: head.position, pageSize: pageSize)
        var broken = try await walk.run()
        if broken == nil {
            // Past the head: events appended since have their rows (one transaction), so an
            // event no row covers was put there by hand, with the append functions bypassed.
            let stray = try await store.pool.query(EventChainStatements.unchainedAfter, [head.position])
            if stray.rowCount == 1 {
                broken = Break(
                    position: try stray.decode(0, 0), kind: .unchained,
                    detail: "no chain row records this event (inserted behind the append functions' back)")
            }
        }
        return Verification(
            head: head, eventsChecked: walk.eventsChecked, rowsChecked: walk.rowsChecked,
            seconds: (ContinuousClock.now - started).seconds, broken: broken)
    }

    /// One chain row as read.
    struct Row {
        let first: Int64
        let last: Int64
        let digests: [UInt8]
        let previous: [UInt8]
        let hash: [UInt8]
    }

    /// The walk: rows and events read in pages, side by side in position order.
    struct Walk {
        let store: EventStore
        let start: Int64
        let last: Int64
        let pageSize: Int
        var eventsChecked: Int64 = 0
        var rowsChecked: Int64 = 0

        private var rows: [Row] = []
        private var rowIndex = 0
        private var rowsAfter: Int64
        private var rowsDone = false
        private var events: [(position: Int64, text: [UInt8])] = []
        private var eventIndex = 0
        private var eventsAfter: Int64
        private var eventsDone = false

        init(store: EventStore, start: Int64, last: Int64, pageSize: Int) {
            self.store = store
            self.start = start
            self.last = last
            self.pageSize = max(1, pageSize)
            self.rowsAfter = start
            self.eventsAfter = start
        }

        mutating func run() async throws -> Break? {
            var expectedPrevious: [UInt8]? = start == 0 ? EventChain.genesis : nil
            while let row = try await nextRow() {
                // An event between the previous row and this one was never chained.
                if let event = try await peekEvent(), event.position < row.first {
                    return Break(
                        position: event.position, kind: .unchained,
                        detail: "no chain row records this event (inserted behind the append functions' back)")
                }
                if let expected = expectedPrevious, expected != row.previous {
                    return Break(
                        position: row.first, kind: .chainRewritten,
                        detail: "the chain row \(row.first)–\(row.last) does not follow the row before it (rows removed or rewritten)")
                }
                var hasher = SHA256()
                hasher.update(data: row.previous)
                hasher.update(data: row.digests)
                guard Array(hasher.finalize()) == row.hash, row.digests.count == Int(row.last - row.first + 1) * 32 else {
                    return Break(
                        position: row.first, kind: .chainRewritten,
                        detail: "the chain row \(row.first)–\(row.last) does not hash to its recorded hash (the row was edited)")
                }
                rowsChecked += 1
                var expectedPosition = row.first
                while let event = try await peekEvent(), event.position <= row.last {
                    if event.position > expectedPosition {
                        return Break(
                            position: expectedPosition, kind: .missing,
                            detail: "the chain records an event here; the log has none (deleted)")
                    }
                    let offset = Int(event.position - row.first) * 32
                    let digest = Array(SHA256.hash(data: event.text))
                    if !digest.elementsEqual(row.digests[offset..<offset + 32]) {
                        return Break(
                            position: event.position, kind: .edited,
                            detail: "the event no longer matches the digest recorded when it was appended (edited)")
                    }
                    eventsChecked += 1
                    expectedPosition = event.position + 1
                    advanceEvent()
                }
                if expectedPosition <= row.last {
                    return Break(
                        position: expectedPosition, kind: .missing,
                        detail: "the chain records an event here; the log has none (deleted)")
                }
                expectedPrevious = row.hash
            }
            if let event = try await peekEvent() {
                return Break(
                    position: event.position, kind: .unchained,
                    detail: "no chain row records this event (inserted behind the append functions' back)")
            }
            return nil
        }

        private mutating func nextRow() async throws -> Row? {
            if rowIndex == rows.count {
                guard !rowsDone else { return nil }
                let result = try await store.pool.query(EventChainStatements.rows, [rowsAfter, last, pageSize])
                rows = try (0..<result.rowCount).map { index in
                    func bytes(_ column: Int) throws -> [UInt8] {
                        guard let value = try result.decode(index, column, as: RawField.self).hexDecoded else {
                            throw PostgresError(.decoding, message: "a chain row's bytea is not in hex output", statement: result.statement)
                        }
                        return value
                    }
                    return Row(
                        first: try result.decode(index, 0), last: try result.decode(index, 1), digests: try bytes(2),
                        previous: try bytes(3), hash: try bytes(4))
                }
                rowIndex = 0
                rowsDone = rows.count < pageSize
                guard let final = rows.last else { return nil }
                rowsAfter = final.last
            }
            defer { rowIndex += 1 }
            return rows[rowIndex]
        }

        private mutating func peekEvent() async throws -> (position: Int64, text: [UInt8])? {
            if eventIndex == events.count {
                guard !eventsDone else { return nil }
                let result = try await store.pool.query(EventChainStatements.events, [eventsAfter, last, pageSize])
                events = try (0..<result.rowCount).map { row in
                    (position: try result.decode(row, 0, as: Int64.self), text: try result.decode(row, 1, as: RawField.self).bytes)
                }
                eventIndex = 0
                eventsDone = events.count < pageSize
                guard let final = events.last else { return nil }
                eventsAfter = final.position
            }
            return events[eventIndex]
        }

        private mutating func advanceEvent() { eventIndex += 1 }
    }
}

extension Duration {
    fileprivate var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
