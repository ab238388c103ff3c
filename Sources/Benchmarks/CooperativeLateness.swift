import Foundation

/// How late a timer on Swift's cooperative pool fires while some work runs: the measure of
/// whether that work leaves the pool free. A timer's task needs a free cooperative thread to
/// resume; if blocking file I/O held every one (two on this machine), it resumes late by
/// as long as the blocking lasts.
enum CooperativeLateness {
    /// Runs `work` while a timer fires every `interval`; returns the work's result and each
    /// firing's lateness in milliseconds.
    static func measure<Value: Sendable>(
        interval: Duration = .milliseconds(5), during work: @Sendable () async throws -> Value
    ) async throws -> (Value, [Double]) {
        let ticker = Task<[Double], Never> {
            let clock = ContinuousClock()
            var samples: [Double] = []
            while !Task.isCancelled {
                let due = clock.now + interval
                do { try await Task.sleep(until: due, clock: clock) } catch { break }
                samples.append((clock.now - due).seconds * 1_000)
            }
            return samples
        }
        do {
            let value = try await work()
            ticker.cancel()
            return (value, await ticker.value)
        } catch {
            ticker.cancel()
            throw error
        }
    }

    /// The lateness with nothing else running, over `duration`: the reference.
    static func idle(for duration: Duration) async throws -> [Double] {
        try await measure { try await Task.sleep(for: duration) }.1
    }

    /// The `fraction` quantile (0.99 for the 99th percentile) of samples, 0 for none.
    static func quantile(_ fraction: Double, of samples: [Double]) -> Double {
        guard !samples.isEmpty else { return 0 }
        let sorted = samples.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * fraction).rounded()))]
    }
}
