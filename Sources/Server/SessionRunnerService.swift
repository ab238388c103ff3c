import Foundation
import JobManager
import Logging
import ServiceLifecycle
import Synchronization

/// Runs sessions: every begun and unfinished session is work, taken by whichever server
/// owns its lock first — new ones from the scheduler or `job start`, and those a crashed
/// server left behind, which resume where their log stops.
public struct SessionRunnerService: Service {
    let manager: JobManager
    let scheduler: Scheduler
    let maximumSessions: Int
    let interval: Duration
    let logger: Logger

    /// The first wait after a failed run, doubled at each failure up to `retryCap`.
    let retryBase: Duration
    let retryCap: Duration
    /// Failed runs in a row after which the session ends failed.
    let maximumAttempts: Int

    public init(
        manager: JobManager, scheduler: Scheduler, maximumSessions: Int = 4, interval: Duration = .seconds(1),
        retryBase: Duration = .seconds(5), retryCap: Duration = .seconds(600), maximumAttempts: Int = 8, logger: Logger
    ) {
        self.retryBase = retryBase
        self.retryCap = retryCap
        self.maximumAttempts = max(1, maximumAttempts)
        self.manager = manager
        self.scheduler = scheduler
        self.maximumSessions = max(1, maximumSessions)
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        let running = RunningSessions()
        // Shutdown cancels the sessions too: each resumes from its log at the next start.
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                while !Task.isCancelled {
                    do {
                        let waiting = try await manager.unfinishedSessions().filter { !running.isRunning($0) }
                        let elsewhere = try await manager.sessionsOwnedElsewhere(waiting)
                        for session in waiting where !elsewhere.contains(session) {
                            guard running.claim(session, limit: maximumSessions, now: ContinuousClock.now) else { continue }
                            group.addTask {
                                await self.run(session, running: running)
                                running.release(session)
                            }
                        }
                    } catch {
                        logger.error("cannot list sessions; trying again", metadata: ["error": "\(error)"])
                    }
                    try? await Task.sleep(for: interval)
                }
            }
        }
    }

    func run(_ session: String, running: RunningSessions) async {
        var logger = self.logger
        logger[metadataKey: "session"] = "\(session)"
        do {
            let report = try await manager.run(session: session)
            logger.notice("session finished", metadata: ["result": "\(report.finished.result)", "job": "\(report.jobID)"])
            for chained in try await scheduler.chain(after: report.jobID, trigger: report.trigger) {
                logger.info("chained session begun", metadata: ["chained": "\(chained)"])
            }
            running.succeeded(session)
        } catch let error as JobManagerError where error.code == .sessionBusy {
            // Another server runs it.
        } catch is CancellationError {
            logger.notice("session interrupted by shutdown; it resumes at the next start")
        } catch {
            // A passing error (a vCenter down, a login fault it reports as a system error):
            // tried again after a wait that doubles, never every second, and given up after a
            // bound — each attempt may be a failed login, and vCenter locks accounts.
            let attempt = running.failed(session, now: ContinuousClock.now, base: retryBase, cap: retryCap)
            logger.error("session failed to run", metadata: ["error": "\(error)", "attempt": "\(attempt)"])
            guard attempt >= maximumAttempts else { return }
            do {
                if let report = try await manager.giveUp(
                    session: session, reason: "gave up after \(attempt) attempts that failed to run it; the last: \(error)")
                {
                    logger.error("session given up", metadata: ["result": "\(report.finished.result)"])
                }
                running.succeeded(session)
            } catch {
                logger.error("cannot end the session given up; trying again later", metadata: ["error": "\(error)"])
            }
        }
    }
}

/// The sessions this server runs right now, and those waiting out a failed run.
final class RunningSessions: Sendable {
    private struct State {
        var running = Set<String>()
        /// Failed runs in a row, and when the next may start.
        var failures: [String: (count: Int, notBefore: ContinuousClock.Instant)] = [:]
    }

    private let state = Mutex(State())

    /// Takes the session unless it runs here already, `limit` sessions do, or it waits.
    func claim(_ session: String, limit: Int, now: ContinuousClock.Instant) -> Bool {
        state.withLock { current in
            guard current.running.count < limit, !current.running.contains(session) else { return false }
            if let waiting = current.failures[session], now < waiting.notBefore { return false }
            current.running.insert(session)
            return true
        }
    }

    func isRunning(_ session: String) -> Bool {
        state.withLock { $0.running.contains(session) }
    }

    func release(_ session: String) {
        state.withLock { _ = $0.running.remove(session) }
    }

    /// Counts a failed run and sets the wait before the next; returns the failures in a row.
    func failed(_ session: String, now: ContinuousClock.Instant, base: Duration, cap: Duration) -> Int {
        state.withLock { current in
            let count = (current.failures[session]?.count ?? 0) + 1
            let wait = min(cap, base * Int(1 << min(count - 1, 20)))
            current.failures[session] = (count, now + wait)
            return count
        }
    }

    func succeeded(_ session: String) {
        state.withLock { _ = $0.failures.removeValue(forKey: session) }
    }
}
