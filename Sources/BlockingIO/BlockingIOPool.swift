import Foundation

/// A fixed set of threads for work that blocks in the kernel: file writes, `fsync`,
/// `syncfs`, reads of files and locks on them.
///
/// Swift's cooperative pool has one thread per core (two here). A task that sits in
/// `fsync` holds its thread all that time, and with a few blocks of a backup in flight every
/// cooperative thread can be blocked at once: timers fire late, database results wait,
/// the server stops answering. Work sent here blocks one of these threads instead; at most
/// `threadCount` such calls run at once and the rest queue, so the number of threads stays
/// bounded however many transfers run (the pattern of the Postgres module's
/// `ConnectionThreadExecutor`, with several threads instead of one).
public final class BlockingIOPool: Sendable {
    /// The process's pool: twice the cores, at least four.
    public static let shared = BlockingIOPool(name: "tidemark-io", threads: max(4, ProcessInfo.processInfo.activeProcessorCount * 2))

    public let threadCount: Int
    private let queue: WorkQueue

    public init(name: String, threads: Int) {
        precondition(threads > 0, "a blocking I/O pool needs at least one thread")
        threadCount = threads
        queue = WorkQueue()
        for index in 0..<threads {
            let thread = Thread { [queue] in queue.runForever() }
            thread.name = "\(name)-\(index)"
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Runs `work` on one of the pool's threads and returns its result; the calling task
    /// waits without holding a cooperative thread. The work runs to its end once it has
    /// started: cancelling the task does not interrupt a system call.
    public func run<Value: Sendable, Failure: Error>(
        _ work: @escaping @Sendable () throws(Failure) -> Value
    ) async throws(Failure) -> Value {
        let result: Result<Value, Failure> = await withCheckedContinuation { continuation in
            queue.submit { continuation.resume(returning: Result { () throws(Failure) -> Value in try work() }) }
        }
        return try result.get()
    }
}

/// The pool's queue of closures, waited on by its threads.
///
/// A taken slot is emptied at once: a closure that ran must not stay referenced by the
/// queue, since what it captured (a repository's lock, a descriptor) is released only when
/// its last reference goes.
private final class WorkQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var pending: [(@Sendable () -> Void)?] = []
    private var head = 0

    func submit(_ work: @escaping @Sendable () -> Void) {
        condition.lock()
        pending.append(work)
        condition.signal()
        condition.unlock()
    }

    func runForever() {
        while true {
            condition.lock()
            while head == pending.count { condition.wait() }
            let work = pending[head]
            pending[head] = nil
            head += 1
            if head == pending.count {
                pending.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 1_024 {
                pending.removeFirst(head)
                head = 0
            }
            condition.unlock()
            work?()
        }
    }
}
