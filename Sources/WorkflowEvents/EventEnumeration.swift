/// A closed set of words an event carries as text (a result, a trigger, a mode). Read
/// leniently: a word this build does not know (written by a later version, or by hand) is kept
/// as `other` instead of failing the whole event, so a projection or a replay never stops on
/// it; written as the bare word, so the log's JSON is what it was when these were strings.
/// A string literal is one of them, so `result == "success"` reads as before.
public protocol EventEnumeration: RawRepresentable, Codable, Hashable, Sendable, ExpressibleByStringLiteral,
    CustomStringConvertible
where RawValue == String {
    init(rawValue: String)
}

extension EventEnumeration {
    public init(from decoder: any Decoder) throws {
        self.init(rawValue: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public init(stringLiteral value: String) { self.init(rawValue: value) }

    public var description: String { rawValue }
}

extension SessionEvent {
    /// How a session, a VM or a task ended.
    public enum Outcome: EventEnumeration {
        case success, warning, failed, stopped
        case other(String)

        public init(rawValue: String) {
            switch rawValue {
            case "success": self = .success
            case "warning": self = .warning
            case "failed": self = .failed
            case "stopped": self = .stopped
            default: self = .other(rawValue)
            }
        }

        public var rawValue: String {
            switch self {
            case .success: "success"
            case .warning: "warning"
            case .failed: "failed"
            case .stopped: "stopped"
            case .other(let word): word
            }
        }
    }

    /// Why a session began. `chainedByHand` is a chained job's session after a session a
    /// person started (by hand, or itself chained by hand): retention under two-person
    /// approval tells what a person began from what the schedule did.
    public enum Trigger: EventEnumeration {
        case manual, scheduled, retry, chained, chainedByHand, missed, continuous
        case other(String)

        /// Begun, directly or through a chain, by a person rather than by the schedule.
        public var isByHand: Bool {
            switch self {
            case .manual, .chainedByHand: true
            default: false
            }
        }

        public init(rawValue: String) {
            switch rawValue {
            case "manual": self = .manual
            case "scheduled": self = .scheduled
            case "retry": self = .retry
            case "chained": self = .chained
            case "chained-by-hand": self = .chainedByHand
            case "missed": self = .missed
            case "continuous": self = .continuous
            default: self = .other(rawValue)
            }
        }

        public var rawValue: String {
            switch self {
            case .manual: "manual"
            case .scheduled: "scheduled"
            case .retry: "retry"
            case .chained: "chained"
            case .chainedByHand: "chained-by-hand"
            case .missed: "missed"
            case .continuous: "continuous"
            case .other(let word): word
            }
        }
    }

    /// How a disk's transfer reads: whole, or only what changed since its base.
    public enum TransferMode: EventEnumeration {
        case full, incremental
        case other(String)

        public init(rawValue: String) {
            switch rawValue {
            case "full": self = .full
            case "incremental": self = .incremental
            default: self = .other(rawValue)
            }
        }

        public var rawValue: String {
            switch self {
            case .full: "full"
            case .incremental: "incremental"
            case .other(let word): word
            }
        }
    }
}
