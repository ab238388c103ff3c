import Testing

@testable import Postgres

/// A stand-in connection: a name, and whether it broke.
private final class FakeConnection: PoolableConnection, CustomStringConvertible {
    let name: String
    var isBroken = false
    init(_ name: String) { self.name = name }
    var description: String { name }
}

/// The rules of `PostgresPool`, driven with no database, threads or sleeps. Waiters are numbers.
@Suite("Connection pool decisions")
struct ConnectionPoolStateMachineTests {
    private typealias Machine = ConnectionPoolStateMachine<FakeConnection, Int>

    /// Asks for a connection and queues the caller as waiter `waiter` when told to wait.
    private func leaseOrWait(_ machine: inout Machine, _ waiter: Int) -> String {
        switch machine.leaseRequested() {
        case .use(let connection): return "use \(connection)"
        case .discard(let connection): return "discard \(connection)"
        case .open: return "open"
        case .closed: return "closed"
        case .wait:
            let id = machine.makeWaiterID()
            switch machine.waiterArrived(id: id, waiter, isCancelled: false) {
            case .wait: return "wait"
            case .askAgain: return "ask again"
            case .refuse(let refusal): return "refused \(refusal)"
            }
        }
    }

    @Test("the pool opens connections up to its maximum, then callers wait")
    func neverMoreThanMaximum() {
        var machine = Machine(maximumConnections: 2)
        #expect(leaseOrWait(&machine, 1) == "open")
        #expect(leaseOrWait(&machine, 2) == "open")
        #expect(leaseOrWait(&machine, 3) == "wait")
        #expect(leaseOrWait(&machine, 4) == "wait")
        #expect(machine.openCount == 2)
        #expect(machine.waiterCount == 2)
    }

    @Test("a returned connection goes to the longest waiter, then the next, and stays idle when nobody waits")
    func returnedConnectionGoesToOldestWaiter() {
        var machine = Machine(maximumConnections: 1)
        let connection = FakeConnection("a")
        #expect(leaseOrWait(&machine, 1) == "open")
        #expect(leaseOrWait(&machine, 2) == "wait")
        #expect(leaseOrWait(&machine, 3) == "wait")
        guard case .handOver(2) = machine.connectionReturned(connection) else {
            Issue.record("the connection should go to waiter 2, the longest waiting")
            return
        }
        guard case .handOver(3) = machine.connectionReturned(connection) else {
            Issue.record("the connection should go to waiter 3 next")
            return
        }
        guard case .keep = machine.connectionReturned(connection) else {
            Issue.record("with nobody waiting the connection should stay idle")
            return
        }
        #expect(machine.idleCount == 1)
        #expect(machine.openCount == 1)
        #expect(leaseOrWait(&machine, 4) == "use a")
    }

    @Test("the most recently returned idle connection is used first")
    func idleIsLastInFirstOut() {
        var machine = Machine(maximumConnections: 2)
        _ = machine.leaseRequested()
        _ = machine.leaseRequested()
        _ = machine.connectionReturned(FakeConnection("a"))
        _ = machine.connectionReturned(FakeConnection("b"))
        #expect(leaseOrWait(&machine, 1) == "use b")
        #expect(leaseOrWait(&machine, 2) == "use a")
        #expect(machine.openCount == 2)
    }

    @Test("an idle connection that broke is discarded and its slot opens a fresh one")
    func brokenIdleIsDiscarded() {
        var machine = Machine(maximumConnections: 1)
        let connection = FakeConnection("a")
        _ = machine.leaseRequested()
        _ = machine.connectionReturned(connection)
        connection.isBroken = true
        #expect(leaseOrWait(&machine, 1) == "discard a")
        #expect(machine.openCount == 0)
        #expect(leaseOrWait(&machine, 1) == "open")
        #expect(machine.openCount == 1)
    }

    @Test("a broken connection given back leaves its slot to the longest waiter, who opens a new one")
    func brokenReturnedIsReplaced() {
        var machine = Machine(maximumConnections: 1)
        #expect(leaseOrWait(&machine, 1) == "open")
        #expect(leaseOrWait(&machine, 2) == "wait")
        #expect(leaseOrWait(&machine, 3) == "wait")
        #expect(machine.slotReleased() == 2)
        #expect(machine.openCount == 1)
        #expect(machine.waiterCount == 1)
    }

    @Test("a slot given up with nobody waiting is free for the next caller to open")
    func releasedSlotWithoutWaiters() {
        var machine = Machine(maximumConnections: 1)
        #expect(leaseOrWait(&machine, 1) == "open")
        #expect(machine.slotReleased() == nil)  // the open failed, or the connection broke
        #expect(machine.openCount == 0)
        #expect(leaseOrWait(&machine, 2) == "open")
    }

    @Test("closing fails every waiter, closes idle connections and refuses new callers")
    func closingFailsWaiters() {
        var machine = Machine(maximumConnections: 2)
        _ = machine.leaseRequested()
        _ = machine.leaseRequested()
        _ = machine.connectionReturned(FakeConnection("a"))
        _ = machine.leaseRequested()  // takes a back: both in use
        #expect(leaseOrWait(&machine, 1) == "wait")
        #expect(leaseOrWait(&machine, 2) == "wait")
        let (idle, waiters) = machine.closeRequested()
        #expect(idle.isEmpty)
        #expect(waiters == [1, 2])
        #expect(machine.waiterCount == 0)
        #expect(leaseOrWait(&machine, 3) == "closed")
        // A caller told to wait just before the pool closed is refused when it comes to wait.
        #expect(machine.waiterArrived(id: machine.makeWaiterID(), 4, isCancelled: false) == .refuse(.closed))
    }

    @Test("after closing, connections in use close when returned and their slots are not handed on")
    func connectionsCloseOnReturnAfterClosing() {
        var machine = Machine(maximumConnections: 3)
        _ = machine.leaseRequested()
        _ = machine.leaseRequested()
        _ = machine.leaseRequested()
        _ = machine.connectionReturned(FakeConnection("idle"))
        let (idle, _) = machine.closeRequested()
        #expect(idle.map(\.name) == ["idle"])
        #expect(machine.openCount == 2)
        guard case .close = machine.connectionReturned(FakeConnection("a")) else {
            Issue.record("a connection returned to a closed pool should be closed")
            return
        }
        #expect(machine.slotReleased() == nil)
        #expect(machine.openCount == 0)
    }

    @Test("a cancelled waiter leaves the queue; the others keep their order")
    func cancelledWaiterIsRemoved() {
        var machine = Machine(maximumConnections: 1)
        _ = machine.leaseRequested()
        var ids: [Int: Int] = [:]
        for waiter in 1...3 {
            #expect(machine.leaseRequested().isWait)
            let id = machine.makeWaiterID()
            ids[waiter] = id
            #expect(machine.waiterArrived(id: id, waiter, isCancelled: false) == .wait)
        }
        #expect(machine.waiterCancelled(id: ids[2]!) == 2)
        #expect(machine.waiterCancelled(id: ids[2]!) == nil)  // cancelled twice, or served already
        #expect(machine.slotReleased() == 1)
        #expect(machine.slotReleased() == 3)
        #expect(machine.waiterCount == 0)
    }

    /// The pool decides "wait" under one lock and queues the waiter under another (the queue
    /// holds continuations, which exist only once the caller suspends). A connection returned,
    /// or a slot given up, in between found nobody to wake and went idle; the caller then
    /// queued behind it and waited for a connection that sat idle, until some other caller
    /// happened to come by.
    @Test("a caller told to wait does not queue when a connection came back before it did")
    func connectionReturnedBeforeTheWaiterQueued() {
        var machine = Machine(maximumConnections: 1)
        let connection = FakeConnection("a")
        #expect(leaseOrWait(&machine, 1) == "open")
        #expect(machine.leaseRequested().isWait)  // caller 2 is told to wait…
        guard case .keep = machine.connectionReturned(connection) else {  // …caller 1 gives back…
            Issue.record("nobody is queued yet, so the connection goes idle")
            return
        }
        // …caller 2 comes to wait, and is told to ask again.
        #expect(machine.waiterArrived(id: machine.makeWaiterID(), 2, isCancelled: false) == .askAgain)
        #expect(machine.waiterCount == 0, "caller 2 waits while a connection sits idle")
        #expect(leaseOrWait(&machine, 2) == "use a")
    }

    @Test("a caller told to wait does not queue when a slot was given up before it did")
    func slotReleasedBeforeTheWaiterQueued() {
        var machine = Machine(maximumConnections: 1)
        #expect(leaseOrWait(&machine, 1) == "open")
        #expect(machine.leaseRequested().isWait)
        #expect(machine.slotReleased() == nil)  // caller 1's connection broke
        #expect(machine.waiterArrived(id: machine.makeWaiterID(), 2, isCancelled: false) == .askAgain)
        #expect(machine.waiterCount == 0, "caller 2 waits while a slot is free")
        #expect(leaseOrWait(&machine, 2) == "open")
    }

    @Test("a caller cancelled before it queues is refused and never queued")
    func cancelledBeforeQueueing() {
        var machine = Machine(maximumConnections: 1)
        _ = machine.leaseRequested()
        #expect(machine.leaseRequested().isWait)
        #expect(machine.waiterArrived(id: machine.makeWaiterID(), 1, isCancelled: true) == .refuse(.cancelled))
        #expect(machine.waiterCount == 0)
    }

    @Test("over a long mix of leases, returns, breakages and cancellations the pool never passes its maximum")
    func boundHoldsThroughAMix() {
        var machine = Machine(maximumConnections: 3)
        var inUse: [FakeConnection] = []
        var waiting: [(waiter: Int, id: Int)] = []
        var opened = 0
        var seed: UInt64 = 42
        func next(_ bound: Int) -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((seed >> 33) % UInt64(bound))
        }
        func open() -> FakeConnection {
            opened += 1
            return FakeConnection("c\(opened)")
        }
        for step in 0..<2_000 {
            switch next(4) {
            case 0:
                switch machine.leaseRequested() {
                case .use(let connection): inUse.append(connection)
                case .open: inUse.append(open())
                case .discard: break
                case .closed: Issue.record("the pool is not closed")
                case .wait:
                    let id = machine.makeWaiterID()
                    if machine.waiterArrived(id: id, step, isCancelled: false) == .wait { waiting.append((step, id)) }
                }
            case 1 where !inUse.isEmpty:
                let connection = inUse.remove(at: next(inUse.count))
                if next(5) == 0 {
                    // Broke while in use: given up, its slot handed on.
                    if let waiter = machine.slotReleased() {
                        waiting.removeAll { $0.waiter == waiter }
                        inUse.append(open())
                    }
                } else {
                    switch machine.connectionReturned(connection) {
                    case .handOver(let waiter):
                        waiting.removeAll { $0.waiter == waiter }
                        inUse.append(connection)
                    case .keep:
                        if next(10) == 0 { connection.isBroken = true }  // breaks while idle
                    case .close:
                        Issue.record("the pool is not closed")
                    }
                }
            case 2 where !waiting.isEmpty:
                let cancelled = waiting.remove(at: next(waiting.count))
                #expect(machine.waiterCancelled(id: cancelled.id) == cancelled.waiter)
            default:
                break
            }
            #expect(machine.openCount <= 3)
            #expect(machine.openCount == inUse.count + machine.idleCount)
            #expect(machine.waiterCount == waiting.count)
            #expect(machine.waiterCount == 0 || machine.idleCount == 0)
        }
    }
}

extension ConnectionPoolStateMachine.LeaseAction {
    fileprivate var isWait: Bool {
        if case .wait = self { return true }
        return false
    }
}
