/// The kinds of object an administrator defines; each object lives on a stream of its own
/// (`<category>-<uuid>`).
public enum ObjectKind: String, Sendable, CaseIterable, Codable {
    case server
    case repository
    case proxy
    case throttle
    case job

    /// The stream category, and the prefix of every stream of this kind.
    public var category: String { rawValue }

    /// The name used in messages and event types (`ThrottleRuleAdded`).
    public var displayName: String {
        switch self {
        case .server: return "managed server"
        case .repository: return "repository"
        case .proxy: return "proxy"
        case .throttle: return "throttling rule"
        case .job: return "job"
        }
    }

    /// The name of several: "repositories", not "repositorys".
    public var pluralName: String {
        switch self {
        case .repository: return "repositories"
        case .proxy: return "proxies"
        default: return displayName + "s"
        }
    }

    /// The prefix of the kind's event types.
    public var eventPrefix: String {
        switch self {
        case .server: return "Server"
        case .repository: return "Repository"
        case .proxy: return "Proxy"
        case .throttle: return "ThrottleRule"
        case .job: return "Job"
        }
    }

    /// The stream of one object.
    public func stream(of id: UUIDString) -> String { "\(category)-\(id)" }
}

/// A lowercase UUID as it appears in stream names and events.
public typealias UUIDString = String
