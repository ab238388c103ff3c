import Foundation
import Synchronization

/// The transfers a proxy process runs now, each an unstructured task of its own so that one
/// can be stopped alone (its assignment was taken back) while the others go on.
final class RunningTasks: Sendable {
    struct Entry: Sendable {
        let session: String
        let task: String
        let token: Int64
        let handle: Task<Void, Never>
    }

    private let entries = Mutex([String: Entry]())
    /// Tasks that ended before they were added (a fast one): not added then.
    private let ended = Mutex(Set<String>())
    /// Closed once the process stops: no task is taken after that. Looks in flight count, so
    /// that stopping waits for one that may still bring tasks.
    private let gate = Mutex((closed: false, looking: 0))

    /// Enters a look for new tasks; false once closed.
    func beginLooking() -> Bool {
        gate.withLock { state in
            guard !state.closed else { return false }
            state.looking += 1
            return true
        }
    }

    func endLooking() { gate.withLock { $0.looking -= 1 } }

    /// Closes the gate and waits (up to `seconds`) for looks in flight to end.
    func close(waitingUpTo seconds: Double) async {
        gate.withLock { $0.closed = true }
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while gate.withLock({ $0.looking }) > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    static func key(_ session: String, _ task: String, _ token: Int64) -> String { "\(session)/\(task)/\(token)" }

    var count: Int { entries.withLock { $0.count } }

    /// The keys of the tasks running now.
    var keys: Set<String> { entries.withLock { Set($0.keys) } }

    func add(_ entry: Entry) {
        let key = Self.key(entry.session, entry.task, entry.token)
        guard ended.withLock({ $0.remove(key) == nil }) else { return }
        entries.withLock { $0[key] = entry }
    }

    func remove(_ key: String) {
        let removed = entries.withLock { $0.removeValue(forKey: key) }
        if removed == nil { ended.withLock { _ = $0.insert(key) } }
    }

    /// Stops the named tasks (taken back from this process).
    func cancel(_ keys: Set<String>) {
        let handles = entries.withLock { all in keys.compactMap { all[$0]?.handle } }
        for handle in handles { handle.cancel() }
    }

    /// Stops every task and waits until each has reported and ended.
    func cancelAllAndWait() async {
        let handles = entries.withLock { $0.values.map(\.handle) }
        for handle in handles { handle.cancel() }
        for handle in handles { await handle.value }
    }
}
