import Foundation
import Logging
import Postgres
import Synchronization

/// Wakes waiters when a NOTIFY on one channel carries their key, from ONE listening
/// connection shared by everyone in the process, with a time limit on every wait as the
/// fallback (a notification lost with a dropped connection costs one wait, not a hang).
///
/// A proxy process waits on `tidemark_proxy_tasks` for its instance id (a task was assigned
/// to it); a Job Manager waits on `tidemark_assignment_reports` for `<session>/<task>` (its
/// holder reported). The listening connection runs while someone is `listening` and closes
/// when the last one leaves.
public final class Doorbell: Sendable {
    private struct State {
        var rings: [String: Int] = [:]
        var waiters: [String: [UUID: CheckedContinuation<Void, Never>]] = [:]
        var listeners = 0
        var loop: Task<Void, Never>?
    }

    private let state = Mutex(State())
    private let settings: PostgresConnectionSettings
    private let channel: String
    private let logger: Logger

    public init(settings: PostgresConnectionSettings, channel: String, logger: Logger) {
        self.settings = settings
        self.channel = channel
        self.logger = logger
    }

    /// Runs `body` with the listening connection up (started by the first caller, closed
    /// after the last).
    public func listening<T>(_ body: () async throws -> T) async throws -> T {
        let start = state.withLock { state -> Bool in
            state.listeners += 1
            return state.listeners == 1
        }
        if start {
            let loop = Task { await self.listen() }
            state.withLock { $0.loop = loop }
        }
        defer {
            let loop = state.withLock { state -> Task<Void, Never>? in
                state.listeners -= 1
                guard state.listeners == 0 else { return nil }
                // Counts only matter to waits in progress: none is left.
                state.rings = [:]
                defer { state.loop = nil }
                return state.loop
            }
            loop?.cancel()
        }
        return try await body()
    }

    /// How often `key` rang so far: read it before looking at what a ring announces, then
    /// `wait(for:after:upTo:)` with it, so a ring in between is not missed.
    public func rings(of key: String) -> Int { state.withLock { $0.rings[key] ?? 0 } }

    /// Returns once `key` rang more than `seen` times, `timeout` passed, or the caller was
    /// cancelled.
    public func wait(for key: String, after seen: Int, upTo timeout: Duration) async {
        let id = UUID()
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let already = state.withLock { state -> Bool in
                    if (state.rings[key] ?? 0) > seen { return true }
                    state.waiters[key, default: [:]][id] = continuation
                    return false
                }
                if already { return continuation.resume() }
                Task {
                    try? await Task.sleep(for: timeout)
                    self.release(key, id)
                }
            }
        } onCancel: {
            release(key, id)
        }
    }

    private func release(_ key: String, _ id: UUID) {
        let continuation = state.withLock { $0.waiters[key]?.removeValue(forKey: id) }
        continuation?.resume()
    }

    private func ring(_ key: String) {
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.rings[key, default: 0] += 1
            return Array((state.waiters.removeValue(forKey: key) ?? [:]).values)
        }
        for continuation in woken { continuation.resume() }
    }

    /// Everyone waiting looks again (after a reconnect, a ring may have been missed).
    private func ringAll() {
        let keys = state.withLock { Array($0.waiters.keys) }
        for key in keys { ring(key) }
    }

    private func listen() async {
        while !Task.isCancelled {
            do {
                let connection = try await PostgresConnection.connect(settings)
                do {
                    try await connection.listen(channel)
                    ringAll()
                    while !Task.isCancelled {
                        for notification in try await connection.waitForNotifications(timeout: .milliseconds(500)) {
                            ring(notification.payload)
                        }
                    }
                } catch {
                    await connection.close()
                    throw error
                }
                await connection.close()
            } catch {
                logger.debug("doorbell connection lost; waits fall back to their time limit", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}
