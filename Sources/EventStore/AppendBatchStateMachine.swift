/// The decisions of group commit (`AppendBatcher`), with no I/O in them: who leads, what goes in
/// a batch, who is answered when a batch comes back and who leads next.
///
/// Kept apart from the actor so the rules can be tested without a database, threads or sleeps;
/// the actor holds one of these and does only what it is told (wait, send, resume), so the rules
/// tested are the ones that run.
///
/// A caller that finds a free place in flight leads: it sends its own request first, then the
/// oldest waiting ones while the batch stays within the event limit (its own request always
/// goes, however large). Waiters are taken strictly in arrival order: a waiter that does not fit
/// ends the batch rather than being skipped, so requests are sent in the order they arrived.
/// When a batch comes back its requests, and only they, are answered, whatever the outcome; the
/// leader then hands its place to the oldest waiter, or gives it up when none is waiting.
struct AppendBatchStateMachine<Waiter> {
    private struct Queued {
        let waiter: Waiter
        let eventCount: Int
    }

    /// The most events one batch holds, unless its leader's own request alone has more.
    let maximumEvents: Int
    /// The most batches in flight at once.
    let maximumInFlight: Int
    /// Requests waiting for a place in flight. Not empty only while every place is taken.
    private var queue: [Queued] = []
    /// Places in flight taken: by a leader gathering, sending or answering its batch.
    private(set) var inFlight = 0

    init(maximumEvents: Int, maximumInFlight: Int) {
        self.maximumEvents = maximumEvents
        self.maximumInFlight = maximumInFlight
    }

    /// How many requests wait for a place.
    var waitingCount: Int { queue.count }

    enum AppendAction: Equatable {
        /// A place was free and is now the caller's: gather a batch and send it.
        case lead
        /// Every place is taken: wait to be answered (in someone's batch) or promoted to lead.
        case wait
    }

    /// A request arrives with `eventCount` events.
    mutating func appendRequested(_ waiter: Waiter, eventCount: Int) -> AppendAction {
        if inFlight >= maximumInFlight {
            queue.append(Queued(waiter: waiter, eventCount: eventCount))
            return .wait
        }
        inFlight += 1
        return .lead
    }

    /// The leader of a place gathers its batch: its own request first, then the oldest waiting
    /// ones up to the event limit. The waiters returned are no longer waiting for a place.
    mutating func batchGathered(leader: Waiter, eventCount: Int) -> [Waiter] {
        var batch = [leader]
        var events = eventCount
        while let next = queue.first, events + next.eventCount <= maximumEvents {
            batch.append(queue.removeFirst().waiter)
            events += next.eventCount
        }
        return batch
    }

    /// What a leader does once its batch has been answered.
    enum Handoff {
        /// The oldest waiter leads next, in the place this leader held.
        case promote(Waiter)
        /// Nobody waits: the place is free again.
        case releasePlace
    }

    /// A batch came back with one outcome per request, in the batch's order (a failed batch
    /// has a failure for each). Answers exactly the batch's waiters, and frees the leader's
    /// place for the next batch whatever the outcomes were.
    mutating func batchAnswered<Outcome>(
        _ batch: [Waiter], outcomes: [Outcome]
    ) -> (answers: [(waiter: Waiter, outcome: Outcome)], next: Handoff) {
        let answers = zip(batch, outcomes).map { (waiter: $0, outcome: $1) }
        if queue.isEmpty {
            inFlight -= 1
            return (answers, .releasePlace)
        }
        return (answers, .promote(queue.removeFirst().waiter))
    }
}
