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

    public init(manager: JobManager, scheduler: Scheduler, maximumSessions: Int = 4, interval: Duration = .seconds(1), logger: Logger) {
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
                        for session in try await manager.unfinishedSessions() {
                            guard running.claim(session, limit: maximumSessions) else { continue }
                            group.addTask {
                                await self.run(session)
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

    func run(_ session: String) async {
        var logger = self.logger
        logger[metadataKey: "session"] = "\(session)"
        do {
            let report = try await manager.run(session: session)
            logger.notice("session finished", metadata: ["result": "\(report.finished.result)", "job": "\(report.jobID)"])
            for chained in try await scheduler.chain(after: report.jobID) {
                logger.info("chained session begun", metadata: ["chained": "\(chained)"])
            }
        } catch let error as JobManagerError where error.code == .sessionBusy {
            // Another server runs it.
        } catch is CancellationError {
            logger.notice("session interrupted by shutdown; it resumes at the next start")
        } catch {
            logger.error("session failed to run", metadata: ["error": "\(error)"])
        }
    }
}

/// The sessions this server runs right now.
final class RunningSessions: Sendable {
    private let sessions = Mutex(Set<String>())

    /// Takes the session unless it runs here already or `limit` sessions do.
    func claim(_ session: String, limit: Int) -> Bool {
        sessions.withLock { current in
            guard current.count < limit, !current.contains(session) else { return false }
            current.insert(session)
            return true
        }
    }

    func release(_ session: String) {
        sessions.withLock { _ = $0.remove(session) }
    }
}
