import Synchronization

/// Why a call was given up on: it did not answer in time.
struct DeadlinePassed: Error {
    let seconds: Double
}

/// Awaits `body` for at most `seconds`; past that throws `DeadlinePassed` and leaves `body`
/// running in the background. For calls that a cancellation cannot interrupt: a query on a
/// TCP connection whose link went down waits in the kernel until the link returns, and a
/// proxy must still notice in time that its lease is running out.
func within<T: Sendable>(_ seconds: Double, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let slot = ContinuationSlot<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            slot.wait(continuation)
            let deadline = Task {
                try? await Task.sleep(for: .milliseconds(Int64(max(0, seconds) * 1000)))
                slot.finish(.failure(DeadlinePassed(seconds: seconds)))
            }
            Task {
                do { slot.finish(.success(try await body())) } catch { slot.finish(.failure(error)) }
                // The deadline's sleeper is not left behind (one per report otherwise).
                deadline.cancel()
            }
        }
    } onCancel: {
        slot.finish(.failure(CancellationError()))
    }
}

/// The one waiter of `within`: the first of the body, the deadline and a cancellation to
/// finish resumes it; the others find it empty. A cancellation before the wait began is
/// answered by the body or the deadline.
private final class ContinuationSlot<T: Sendable>: Sendable {
    private let waiting = Mutex<CheckedContinuation<T, any Error>?>(nil)

    func wait(_ continuation: CheckedContinuation<T, any Error>) { waiting.withLock { $0 = continuation } }

    func finish(_ result: Result<T, any Error>) {
        let continuation = waiting.withLock { slot -> CheckedContinuation<T, any Error>? in
            defer { slot = nil }
            return slot
        }
        continuation?.resume(with: result)
    }
}
