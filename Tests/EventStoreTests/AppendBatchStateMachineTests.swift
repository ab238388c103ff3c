import Testing

@testable import EventStore

/// The group-commit rules of `AppendBatcher`, driven with no database, threads or sleeps.
/// Waiters are plain numbers: the order in which requests arrived.
@Suite("Append batching decisions")
struct AppendBatchStateMachineTests {
    private typealias Machine = AppendBatchStateMachine<Int>

    @Test("a request that finds a free place leads; beyond the places in flight, requests wait")
    func placesInFlight() {
        var machine = Machine(maximumEvents: 100, maximumInFlight: 2)
        #expect(machine.appendRequested(1, eventCount: 1) == .lead)
        #expect(machine.appendRequested(2, eventCount: 1) == .lead)
        #expect(machine.appendRequested(3, eventCount: 1) == .wait)
        #expect(machine.appendRequested(4, eventCount: 1) == .wait)
        #expect(machine.inFlight == 2)
        #expect(machine.waitingCount == 2)
    }

    @Test("a leader sends its own request first, then the waiting ones in the order they arrived")
    func orderPreserved() {
        var machine = Machine(maximumEvents: 100, maximumInFlight: 1)
        #expect(machine.appendRequested(1, eventCount: 1) == .lead)
        for waiter in 2...5 { #expect(machine.appendRequested(waiter, eventCount: 1) == .wait) }
        #expect(machine.batchGathered(leader: 1, eventCount: 1) == [1, 2, 3, 4, 5])
        #expect(machine.waitingCount == 0)
    }

    @Test("a batch stops at the first waiter that would pass the event limit: none is skipped ahead of it")
    func eventLimit() {
        var machine = Machine(maximumEvents: 10, maximumInFlight: 1)
        _ = machine.appendRequested(1, eventCount: 4)
        _ = machine.appendRequested(2, eventCount: 5)
        _ = machine.appendRequested(3, eventCount: 2)  // 4 + 5 + 2 > 10
        _ = machine.appendRequested(4, eventCount: 1)  // would fit, but arrived after 3
        #expect(machine.batchGathered(leader: 1, eventCount: 4) == [1, 2])
        #expect(machine.waitingCount == 2)
    }

    @Test("a batch may reach the event limit exactly")
    func eventLimitReachedExactly() {
        var machine = Machine(maximumEvents: 10, maximumInFlight: 1)
        _ = machine.appendRequested(1, eventCount: 4)
        _ = machine.appendRequested(2, eventCount: 6)
        #expect(machine.batchGathered(leader: 1, eventCount: 4) == [1, 2])
    }

    @Test("a leader's own request goes even when it alone has more events than the limit, and goes alone")
    func oversizedLeader() {
        var machine = Machine(maximumEvents: 10, maximumInFlight: 1)
        _ = machine.appendRequested(1, eventCount: 50)
        _ = machine.appendRequested(2, eventCount: 1)
        #expect(machine.batchGathered(leader: 1, eventCount: 50) == [1])
        #expect(machine.waitingCount == 1)
    }

    @Test("a batch's outcomes answer exactly its own requests, each its own outcome")
    func answersPairUp() {
        var machine = Machine(maximumEvents: 100, maximumInFlight: 1)
        _ = machine.appendRequested(1, eventCount: 1)
        _ = machine.appendRequested(2, eventCount: 1)
        _ = machine.appendRequested(3, eventCount: 1)
        let batch = machine.batchGathered(leader: 1, eventCount: 1)
        let (answers, next) = machine.batchAnswered(batch, outcomes: ["a", "b", "c"])
        #expect(answers.map(\.waiter) == [1, 2, 3])
        #expect(answers.map(\.outcome) == ["a", "b", "c"])
        guard case .releasePlace = next else {
            Issue.record("nobody waits, so the place should be freed, not handed on")
            return
        }
        #expect(machine.inFlight == 0)
        #expect(machine.appendRequested(4, eventCount: 1) == .lead)
    }

    @Test("a failed batch fails only its own requests, and the oldest waiter leads the next batch")
    func failedBatchFailsOnlyItsOwn() {
        var machine = Machine(maximumEvents: 2, maximumInFlight: 1)
        _ = machine.appendRequested(1, eventCount: 1)
        _ = machine.appendRequested(2, eventCount: 1)
        _ = machine.appendRequested(3, eventCount: 1)
        _ = machine.appendRequested(4, eventCount: 1)
        let first = machine.batchGathered(leader: 1, eventCount: 1)
        #expect(first == [1, 2])
        let (answers, next) = machine.batchAnswered(first, outcomes: ["lost connection", "lost connection"])
        #expect(answers.map(\.waiter) == [1, 2])
        guard case .promote(let leader) = next else {
            Issue.record("requests wait, so the place should go to the oldest of them")
            return
        }
        #expect(leader == 3)
        #expect(machine.inFlight == 1)
        let second = machine.batchGathered(leader: leader, eventCount: 1)
        #expect(second == [3, 4])
        let (secondAnswers, last) = machine.batchAnswered(second, outcomes: ["ok", "ok"])
        #expect(secondAnswers.map(\.outcome) == ["ok", "ok"])
        guard case .releasePlace = last else {
            Issue.record("the queue is empty, so the place should be freed")
            return
        }
        #expect(machine.inFlight == 0)
    }

    @Test("requests that arrive while a batch is in flight wait for the next one, not the one in flight")
    func lateArrivalsWait() {
        var machine = Machine(maximumEvents: 100, maximumInFlight: 1)
        _ = machine.appendRequested(1, eventCount: 1)
        let batch = machine.batchGathered(leader: 1, eventCount: 1)
        #expect(machine.appendRequested(2, eventCount: 1) == .wait)
        let (answers, next) = machine.batchAnswered(batch, outcomes: ["ok"])
        #expect(answers.map(\.waiter) == [1])
        guard case .promote(2) = next else {
            Issue.record("the late request should lead the next batch")
            return
        }
    }

    @Test("places in flight are never more than the maximum, however batches interleave")
    func neverMoreThanMaximumInFlight() {
        var machine = Machine(maximumEvents: 3, maximumInFlight: 2)
        var leaders: [Int] = []
        var batches: [[Int]] = []
        var answered: [Int] = []
        for request in 1...20 {
            if machine.appendRequested(request, eventCount: 1) == .lead { leaders.append(request) }
            #expect(machine.inFlight <= 2)
            // Every third arrival, the oldest batch comes back.
            if request % 3 == 0 || request == 20 {
                for leader in leaders { batches.append(machine.batchGathered(leader: leader, eventCount: 1)) }
                leaders = []
                let batch = batches.removeFirst()
                let (answers, next) = machine.batchAnswered(batch, outcomes: batch)
                answered += answers.map(\.waiter)
                if case .promote(let leader) = next { leaders.append(leader) }
                #expect(machine.inFlight <= 2)
            }
        }
        while !leaders.isEmpty || !batches.isEmpty {
            for leader in leaders { batches.append(machine.batchGathered(leader: leader, eventCount: 1)) }
            leaders = []
            let batch = batches.removeFirst()
            let (answers, next) = machine.batchAnswered(batch, outcomes: batch)
            answered += answers.map(\.waiter)
            if case .promote(let leader) = next { leaders.append(leader) }
            #expect(machine.inFlight <= 2)
        }
        #expect(answered.sorted() == Array(1...20))
        #expect(machine.inFlight == 0)
        #expect(machine.waitingCount == 0)
    }
}
