/// What the pool needs to know of a connection to decide about it.
protocol PoolableConnection: AnyObject {
    /// The connection failed in a way that makes it unusable (a lost server, a broken protocol).
    var isBroken: Bool { get }
}

extension PostgresConnection: PoolableConnection {}

/// The decisions of `PostgresPool`, with no I/O in them: who gets a connection, when one is
/// opened, where a returned one goes, and what closing does to those waiting.
///
/// Kept apart from the pool so the rules can be tested without a database, threads or sleeps;
/// the pool holds one of these behind its mutex and does only what it is told (open, close,
/// resume), so the rules tested are the ones that run.
///
/// At most `maximumConnections` are open or being opened at once (`openCount` counts both).
/// Callers beyond that wait in order (only while every slot is in use and none is idle); a returned connection goes to the longest waiter, and a
/// connection that is given up (broken, or failed to open) leaves its slot to the longest
/// waiter, who opens a fresh one in it. Closing fails every waiter and refuses new leases;
/// connections in use close when they are returned.
struct ConnectionPoolStateMachine<Connection: PoolableConnection, Waiter> {
    let maximumConnections: Int
    private var idle: [Connection] = []
    /// Connections open or being opened, idle or in use.
    private(set) var openCount = 0
    private var waiters: [(id: Int, waiter: Waiter)] = []
    private var nextWaiterID = 0
    private(set) var closed = false

    init(maximumConnections: Int) {
        self.maximumConnections = maximumConnections
    }

    var idleCount: Int { idle.count }
    var waiterCount: Int { waiters.count }

    enum LeaseAction {
        /// Use this idle connection.
        case use(Connection)
        /// This idle connection broke while idle: close it and ask again (its slot is free).
        case discard(Connection)
        /// A slot is taken for the caller: open a connection in it.
        case open
        /// Every slot is in use: wait for a turn.
        case wait
        /// The pool is closed.
        case closed
    }

    /// A caller asks for a connection. The most recently returned idle connection is used
    /// first (the one most likely still warm).
    mutating func leaseRequested() -> LeaseAction {
        if closed { return .closed }
        if let connection = idle.popLast() {
            if connection.isBroken {
                openCount -= 1
                return .discard(connection)
            }
            return .use(connection)
        }
        if openCount < maximumConnections {
            openCount += 1
            return .open
        }
        return .wait
    }

    /// A number for a caller about to wait, by which it can be found again when cancelled.
    mutating func makeWaiterID() -> Int {
        nextWaiterID += 1
        return nextWaiterID
    }

    /// Why a caller that was told to wait cannot.
    enum Refusal: Equatable {
        case closed
        case cancelled
    }

    enum WaitAction: Equatable {
        /// Queued: a returned connection or a freed slot will come to it.
        case wait
        /// A connection came back or a slot was freed since the caller was told to wait, and
        /// nobody was queued to take it: ask for a connection again instead of waiting.
        case askAgain
        /// It may not wait.
        case refuse(Refusal)
    }

    /// A caller told to wait now comes to wait (`isCancelled`: its task was cancelled meanwhile).
    ///
    /// "Wait" is decided in one step and the waiter queued in another (it has a continuation to
    /// queue only once it suspends), and what happened in between woke nobody: a caller queued
    /// regardless would wait beside an idle connection or a free slot until some other caller
    /// came by. Hence waiters queue only while every slot is in use and none is idle, which
    /// also keeps arrivals from overtaking those already waiting.
    mutating func waiterArrived(id: Int, _ waiter: Waiter, isCancelled: Bool) -> WaitAction {
        if closed { return .refuse(.closed) }
        if isCancelled { return .refuse(.cancelled) }
        if !idle.isEmpty || openCount < maximumConnections { return .askAgain }
        waiters.append((id, waiter))
        return .wait
    }

    /// A waiting caller was cancelled: the waiter to fail, or nil when it is no longer waiting
    /// (already served, or never queued).
    mutating func waiterCancelled(id: Int) -> Waiter? {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return nil }
        return waiters.remove(at: index).waiter
    }

    enum ReturnAction {
        /// Hand the connection to this waiter, the longest waiting.
        case handOver(Waiter)
        /// The pool is closed: close the connection.
        case close
        /// Nobody waits: the connection is idle now.
        case keep
    }

    /// A caller gives back a sound connection (a broken one gives up its slot instead, see
    /// `slotReleased`).
    mutating func connectionReturned(_ connection: Connection) -> ReturnAction {
        if closed {
            openCount -= 1
            return .close
        }
        if !waiters.isEmpty { return .handOver(waiters.removeFirst().waiter) }
        idle.append(connection)
        return .keep
    }

    /// A connection's slot is free (it broke, or failed to open): the longest waiter may open
    /// a new one in it, returned here; with none waiting, the slot is simply free.
    mutating func slotReleased() -> Waiter? {
        if !closed, !waiters.isEmpty { return waiters.removeFirst().waiter }
        openCount -= 1
        return nil
    }

    /// The pool closes: the idle connections to close and the waiters to fail.
    mutating func closeRequested() -> (idle: [Connection], waiters: [Waiter]) {
        closed = true
        let idle = self.idle
        self.idle.removeAll()
        openCount -= idle.count
        let waiters = self.waiters.map(\.waiter)
        self.waiters.removeAll()
        return (idle, waiters)
    }
}
