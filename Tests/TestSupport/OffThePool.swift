import Foundation

/// Runs blocking work (waiting for a child process for seconds) on a thread of its own, so a
/// test does not hold one of the cooperative pool's few threads meanwhile: two crash suites
/// each waiting on their children used to stall every other test of the run.
public func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try body() })
        }
        thread.start()
    }
}
