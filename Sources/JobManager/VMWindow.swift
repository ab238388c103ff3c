import Synchronization

/// How many VMs of a session transfer at once: a VM enters before its snapshot and leaves
/// when its transfers end (or it ends, whichever comes first), and the next VM waits for a
/// place. A VM that fails the session (an error, not a failed backup) wakes the waiters with
/// its error, so no further VM starts.
final class VMWindow: Sendable {
    private struct State {
        var free: Int
        var waiting: [CheckedContinuation<Void, any Error>] = []
        var failure: (any Error)?
    }

    private let state: Mutex<State>

    init(size: Int) {
        state = Mutex(State(free: max(1, size)))
    }

    /// Waits for a place; throws the error of a VM that failed the session.
    func enter() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let outcome = state.withLock { state -> Result<Void, any Error>? in
                if let failure = state.failure { return .failure(failure) }
                guard state.free > 0 else {
                    state.waiting.append(continuation)
                    return nil
                }
                state.free -= 1
                return .success(())
            }
            if let outcome { continuation.resume(with: outcome) }
        }
    }

    /// The place a VM holds, given back once however often it is left.
    func place() -> Place { Place(window: self) }

    final class Place: Sendable {
        private let window: VMWindow
        private let left = Atomic<Bool>(false)

        fileprivate init(window: VMWindow) { self.window = window }

        func leave() {
            guard !left.exchange(true, ordering: .acquiringAndReleasing) else { return }
            window.giveBack()
        }
    }

    private func giveBack() {
        let next = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            guard !state.waiting.isEmpty else {
                state.free += 1
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.resume()
    }

    /// A VM failed the session: whoever waits, and whoever comes, gets its error.
    func fail(_ error: any Error) {
        let waiting = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            if state.failure == nil { state.failure = error }
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.resume(throwing: error) }
    }
}
