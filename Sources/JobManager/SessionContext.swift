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

    /// The logger of a session taken up: its id and its job's name on every line.
    func logger(for plan: SessionPlan) -> Logger {
        var logger = self.logger
        logger[metadataKey: "session"] = "\(plan.session)"
        logger[metadataKey: "job"] = "\(plan.job.name)"
        return logger
    }

    /// The recorder of a session taken up, from the state its stream folds to.
    func recorder(for plan: SessionPlan, state: SessionState) throws -> SessionRecorder {
        try SessionRecorder(store: store, session: plan.session, state: state, crashAfter: settings.crashAfterEvents)
    }
}
