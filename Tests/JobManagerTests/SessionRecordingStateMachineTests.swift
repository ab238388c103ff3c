import Testing

@testable import JobManager

/// The group-commit rules of `SessionRecorder`, driven with no database, threads or sleeps.
/// Entries are strings, waiters are numbers.
@Suite("Session recording decisions")
struct SessionRecordingStateMachineTests {
    private typealias Machine = SessionRecordingStateMachine<String, Int>

    @Test("the first record starts a drain; records arriving while it runs only queue")
    func oneDrainAtATime() {
        var machine = Machine()
        #expect(machine.recordRequested(["a"], waiter: 1) == .startDraining)
        #expect(machine.draining)
        #expect(machine.recordRequested(["b"], waiter: 2) == .none)
        #expect(machine.recordRequested(["c"], waiter: 3) == .none)
        #expect(machine.queuedCount == 3)
    }

    @Test("an append takes every queued record at once, entries in the order recorded")
    func batchKeepsOrder() {
        var machine = Machine()
        _ = machine.recordRequested(["a1", "a2"], waiter: 1)
        _ = machine.recordRequested(["b"], waiter: 2)
        _ = machine.recordRequested(["c1", "c2"], waiter: 3)
        let batch = machine.nextBatch()
        #expect(batch?.entries == ["a1", "a2", "b", "c1", "c2"])
        #expect(batch?.waiters == [1, 2, 3])
        #expect(machine.queuedCount == 0)
    }

    @Test("records arriving while an append is in flight go together in the next one")
    func queuedWhileInFlight() {
        var machine = Machine()
        _ = machine.recordRequested(["a"], waiter: 1)
        #expect(machine.nextBatch()?.waiters == [1])
        #expect(machine.recordRequested(["b"], waiter: 2) == .none)
        #expect(machine.recordRequested(["c"], waiter: 3) == .none)
        #expect(machine.batchSucceeded() == [1])
        let next = machine.nextBatch()
        #expect(next?.entries == ["b", "c"])
        #expect(next?.waiters == [2, 3])
    }

    @Test("a failed append fails exactly its own waiters; records queued meanwhile go in the next append")
    func failureFailsOnlyItsBatch() {
        var machine = Machine()
        _ = machine.recordRequested(["a"], waiter: 1)
        _ = machine.recordRequested(["b"], waiter: 2)
        #expect(machine.nextBatch()?.waiters == [1, 2])
        _ = machine.recordRequested(["c"], waiter: 3)
        #expect(machine.batchFailed() == [1, 2])
        let next = machine.nextBatch()
        #expect(next?.entries == ["c"])
        #expect(machine.batchSucceeded() == [3])
    }

    @Test("the drain ends when nothing is queued, and the next record starts a new one")
    func drainEndsAndRestarts() {
        var machine = Machine()
        _ = machine.recordRequested(["a"], waiter: 1)
        _ = machine.nextBatch()
        #expect(machine.batchSucceeded() == [1])
        #expect(machine.nextBatch() == nil)
        #expect(!machine.draining)
        #expect(machine.recordRequested(["b"], waiter: 2) == .startDraining)
    }

    @Test("a record that arrives before the drain asks again is not lost when the drain ends")
    func noLostRecordAtTheEnd() {
        var machine = Machine()
        _ = machine.recordRequested(["a"], waiter: 1)
        _ = machine.nextBatch()
        #expect(machine.batchFailed() == [1])
        // Still draining: this record waits for the drain's next question, it does not start another drain.
        #expect(machine.recordRequested(["b"], waiter: 2) == .none)
        #expect(machine.nextBatch()?.waiters == [2])
        #expect(machine.batchSucceeded() == [2])
        #expect(machine.nextBatch() == nil)
    }
}
