import Foundation
import Synchronization

/// Bandwidth throttling: a token bucket whose rate can change while transfers run.
///
/// Every session under one throttling rule takes from the same bucket, so they share its
/// rate. A bucket holds at most one second of tokens, so an idle moment does not let a
/// burst far above the rate through.
public final class TokenBucket: Sendable {
    private struct State {
        var bytesPerSecond: Double
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    private let state: Mutex<State>
    private let clock = ContinuousClock()

    /// `bytesPerSecond` must be positive.
    public init(bytesPerSecond: Double) {
        state = Mutex(State(bytesPerSecond: max(1, bytesPerSecond), tokens: 0, updated: ContinuousClock().now))
    }

    public var bytesPerSecond: Double { state.withLock { $0.bytesPerSecond } }

    /// Changes the rate for every transfer taking from this bucket, from now on.
    public func setRate(bytesPerSecond: Double) {
        state.withLock { state in
            refill(&state)
            state.bytesPerSecond = max(1, bytesPerSecond)
            state.tokens = min(state.tokens, state.bytesPerSecond)
        }
    }

    /// Waits until `bytes` may be sent, and takes them.
    public func take(_ bytes: Int) async throws {
        guard bytes > 0 else { return }
        let wait = reserve(bytes)
        if wait > 0 {
            try await Task.sleep(for: .seconds(wait))
        }
    }

    /// `take` for a caller on a blocking thread (one that may sleep without holding a
    /// cooperative thread: a copy's threads on the blocking pool).
    public func takeBlocking(_ bytes: Int) {
        guard bytes > 0 else { return }
        let wait = reserve(bytes)
        if wait > 0 { usleep(useconds_t(min(wait, 60) * 1_000_000)) }
    }

    /// Takes `bytes` now and says how long to wait before sending them.
    private func reserve(_ bytes: Int) -> Double {
        state.withLock { state in
            refill(&state)
            state.tokens -= Double(bytes)
            return state.tokens >= 0 ? 0 : -state.tokens / state.bytesPerSecond
        }
    }

    private func refill(_ state: inout State) {
        let now = clock.now
        let elapsed = now - state.updated
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        state.tokens = min(state.bytesPerSecond, state.tokens + seconds * state.bytesPerSecond)
        state.updated = now
    }
}
