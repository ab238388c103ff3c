import Foundation

/// The scheduler's decisions, on the stream `schedule-<job uuid>`: one event per scheduled
/// time the scheduler handled, so a restarted (or newly elected) scheduler knows where each
/// job stands, and administrators see why a run did not happen.
public enum ScheduleEvent {
    public static let category = "schedule"

    /// The scheduler's stream of a job: `schedule-<job uuid>`.
    public static func stream(of job: String) -> String { "\(category)-\(job)" }

    /// The job a scheduler stream belongs to, or nil for another stream.
    public static func job(inStream stream: String) -> String? {
        stream.hasPrefix(category + "-") ? String(stream.dropFirst(category.count + 1)) : nil
    }

    public enum Kind: String, Sendable, CaseIterable {
        case runRequested = "RunRequested"
        case runSkipped = "RunSkipped"
    }

    /// `RunRequested`: a session was begun for the scheduled time.
    public struct RunRequested: Codable, Sendable {
        public var jobId: String
        public var scheduledFor: Date
        public var trigger: SessionEvent.Trigger
        public var sessionId: String
        public var nextRunAt: Date?
        public init(jobId: String, scheduledFor: Date, trigger: SessionEvent.Trigger, sessionId: String, nextRunAt: Date?) {
            self.jobId = jobId
            self.scheduledFor = scheduledFor
            self.trigger = trigger
            self.sessionId = sessionId
            self.nextRunAt = nextRunAt
        }

        enum CodingKeys: String, CodingKey {
            case jobId = "job_id", scheduledFor = "scheduled_for", trigger, sessionId = "session_id", nextRunAt = "next_run_at"
        }
    }

    /// `RunSkipped`: the scheduled time passed without a run, and why (job disabled, already
    /// running, outside its backup window, missed while the server was down).
    public struct RunSkipped: Codable, Sendable {
        public var jobId: String
        public var scheduledFor: Date
        public var reason: String
        /// Scheduled times this decision covers (several missed while the server was down).
        public var count: Int
        public var nextRunAt: Date?
        public init(jobId: String, scheduledFor: Date, reason: String, count: Int, nextRunAt: Date?) {
            self.jobId = jobId
            self.scheduledFor = scheduledFor
            self.reason = reason
            self.count = count
            self.nextRunAt = nextRunAt
        }

        enum CodingKeys: String, CodingKey {
            case jobId = "job_id", scheduledFor = "scheduled_for", reason, count, nextRunAt = "next_run_at"
        }
    }

    /// Dates as ISO 8601 with milliseconds, so that PostgreSQL reads them as timestamptz.
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(
                date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted)))
        }
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            if let date = try? Date(
                text, strategy: .iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
            {
                return date
            }
            return try Date(text, strategy: .iso8601)
        }
        return decoder
    }
}

extension ScheduleEvent {
    /// The data fields the projections read by name, from the payloads' coding keys.
    public enum Field {
        public static let nextRunAt = RunRequested.CodingKeys.nextRunAt.rawValue
    }
}
