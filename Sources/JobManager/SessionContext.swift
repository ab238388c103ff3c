import EventStore
import Logging

/// What every session of a Job Manager shares: the log, the settings, the logger and the one
/// feed of stop requests. A session runner holds this, never the Job Manager itself.
struct SessionContext: Sendable {
    let store: EventStore
    let settings: JobManagerSettings
    let logger: Logger
    let stopRequests: StopRequestFeed
    /// Rings when a proxy process reports on a task (`<session>/<task>`).
    let reports: Doorbell
}
