/// The decisions of a session's group commit (`SessionRecorder`), with no I/O in them: when a
/// drain starts, what goes in the next append, and whom its outcome answers.
///
/// Kept apart from the actor so the rules can be tested without a database, threads or sleeps;
/// the actor holds one of these and does only what it is told (start a drain, append, resume),
/// so the rules tested are the ones that run.
///
/// Records that arrive while an append is in flight queue; the next append takes all of them
/// at once, in the order they were recorded. Its outcome, success or failure, answers exactly
/// the records in it: a failure is not carried over to records queued meanwhile, which go in
/// the next append.
struct SessionRecordingStateMachine<Entry, Waiter> {
    /// One append's worth of records: their entries in order, and who waits for each record.
    struct Batch {
        let entries: [Entry]
        let waiters: [Waiter]
    }

    private var queue: [(entries: [Entry], waiter: Waiter)] = []
    /// The waiters of the append in flight, if one is.
    private var inFlight: [Waiter]?
    /// A drain runs: it takes queued records until none are left.
    private(set) var draining = false

    init() {}

    /// How many records wait for the next append.
    var queuedCount: Int { queue.count }

    enum RecordAction: Equatable {
        /// No drain runs: start one.
        case startDraining
        /// A drain runs and will take this record in its next append.
        case none
    }

    /// A task records entries (never none: an empty record is answered before it gets here).
    mutating func recordRequested(_ entries: [Entry], waiter: Waiter) -> RecordAction {
        queue.append((entries, waiter))
        if draining { return .none }
        draining = true
        return .startDraining
    }

    /// The drain asks what to append next: every record queued, together, in order; or nil
    /// when none are left, and the drain ends.
    mutating func nextBatch() -> Batch? {
        precondition(inFlight == nil, "the next batch was asked for while an append is in flight")
        guard !queue.isEmpty else {
            draining = false
            return nil
        }
        let batch = Batch(entries: queue.flatMap(\.entries), waiters: queue.map(\.waiter))
        queue = []
        inFlight = batch.waiters
        return batch
    }

    /// The append in flight was stored: these waiters succeed.
    mutating func batchSucceeded() -> [Waiter] {
        finishBatch()
    }

    /// The append in flight failed: these waiters, and only they, fail.
    mutating func batchFailed() -> [Waiter] {
        finishBatch()
    }

    private mutating func finishBatch() -> [Waiter] {
        guard let waiters = inFlight else { preconditionFailure("an append finished with none in flight") }
        inFlight = nil
        return waiters
    }
}
