import Foundation

/// The notification events. Channels: `notify-<uuid>` streams (`NotificationChannelAdded`,
/// `NotificationChannelRemoved`), written by `tidemark notify` under the catalog lock.
/// Deliveries: one `notification-<session uuid>` stream per finished session that a channel
/// wanted — `NotificationsDue` first (appended as a new stream, so of several servers exactly
/// one delivers), then per channel and attempt `NotificationSent` or `NotificationFailed`. A
/// missing mail is explained by reading that stream. A daily summary has a stream of its own
/// per channel and due time, `notification-summary-<channel uuid>-<YYYYMMDDHHMM, UTC>`, with
/// the same events (`NotificationsDue` with `result` summary and the `summary` window).
public enum NotificationEvent {
    public static let channelCategory = "notify"
    public static let deliveryCategory = "notification"

    public static func channelStream(_ id: String) -> String { "\(channelCategory)-\(id)" }
    public static func deliveryStream(session: String) -> String { "\(deliveryCategory)-\(session)" }
    public static func summaryStream(channel: String, due: String) -> String { "\(deliveryCategory)-summary-\(channel)-\(due)" }

    public struct ChannelAdded: Codable, Sendable {
        public var channel: NotificationChannel
    }

    public struct ChannelRemoved: Codable, Sendable {
        public var id: String
        public var name: String
    }

    public struct Due: Codable, Sendable {
        public struct Target: Codable, Sendable, Equatable {
            public var id: String
            public var name: String
        }

        /// The 24 hours a daily summary covers.
        public struct Window: Codable, Sendable, Equatable {
            public var from: Date
            public var to: Date
        }

        /// The session told about; nil for a daily summary.
        public var sessionID: String?
        public var jobName: String?
        /// The session's result, or `summary`.
        public var result: String
        public var channels: [Target]
        public var summary: Window?

        enum CodingKeys: String, CodingKey {
            case result, channels, summary
            case sessionID = "session_id"
            case jobName = "job_name"
        }
    }

    public struct Sent: Codable, Sendable {
        public var channelID: String
        public var channel: String
        public var attempt: Int
        /// What the peer answered (an SMTP or HTTP status).
        public var detail: String

        enum CodingKeys: String, CodingKey {
            case channel, attempt, detail
            case channelID = "channel_id"
        }
    }

    public struct Failed: Codable, Sendable {
        public var channelID: String
        public var channel: String
        public var attempt: Int
        public var error: String
        /// Whether another attempt follows.
        public var willRetry: Bool

        enum CodingKeys: String, CodingKey {
            case channel, attempt, error
            case channelID = "channel_id"
            case willRetry = "will_retry"
        }
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    static func json<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
