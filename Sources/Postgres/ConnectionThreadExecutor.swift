import Foundation

/// A serial executor that owns one operating-system thread.
///
/// libpq's calls block (network round trips, `poll()` while waiting for a notification).
/// Running them on Swift's cooperative pool would starve every other task on this
/// two-core machine, so each connection actor runs on an executor of its own: the
/// blocking happens on a thread that exists for nothing else.
final class ConnectionThreadExecutor: SerialExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var pending: [UnownedJob] = []
    private var stopping = false

    init(name: String) {
        let thread = Thread { [self] in self.runJobs() }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        pending.append(job)
        condition.signal()
        condition.unlock()
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    /// Lets the thread finish the jobs already queued and exit.
    func shutdown() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    private func runJobs() {
        var batch: [UnownedJob] = []
        while true {
            condition.lock()
            while pending.isEmpty && !stopping {
                condition.wait()
            }
            if pending.isEmpty && stopping {
                condition.unlock()
                return
            }
            swap(&batch, &pending)
            condition.unlock()
            for job in batch {
                job.runSynchronously(on: asUnownedSerialExecutor())
            }
            batch.removeAll(keepingCapacity: true)
        }
    }
}
