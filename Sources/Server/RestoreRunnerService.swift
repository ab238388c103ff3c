import Foundation
import JobManager
import Logging
import ServiceLifecycle

/// Runs restores left unfinished: a `tidemark restore` killed halfway, a server that crashed
/// while restoring. Disk restores and exports only on the host that asked (their files were
/// checked there). Each resumes from its last checkpoint, taken by whichever server (or
/// command) owns its lock first; a failed run is tried again after a wait that doubles.
public struct RestoreRunnerService: Service {
    let manager: RestoreManager
    let maximumRestores: Int
    let interval: Duration
    let logger: Logger

    public init(manager: RestoreManager, maximumRestores: Int = 2, interval: Duration = .seconds(1), logger: Logger) {
        self.manager = manager
        self.maximumRestores = max(1, maximumRestores)
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        let running = RunningSessions()
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                // Whether this host may take a restore up never changes (its request says where
                // its files were checked): asked once per restore, not at every look.
                var mayRun: [String: Bool] = [:]
                while !Task.isCancelled {
                    do {
                        let unfinished = try await manager.unfinished()
                        mayRun = mayRun.filter { unfinished.contains($0.key) }
                        for restore in unfinished where !running.isRunning(restore) {
                            // Files are written where they were asked for and checked.
                            if mayRun[restore] == nil { mayRun[restore] = try await manager.mayRun(restore: restore) }
                            guard mayRun[restore] == true else { continue }
                            guard running.claim(restore, limit: maximumRestores, now: ContinuousClock.now) else { continue }
                            group.addTask {
                                await self.run(restore, running: running)
                                running.release(restore)
                            }
                        }
                    } catch {
                        logger.error("cannot list restores; trying again", metadata: ["error": "\(error)"])
                    }
                    try? await Task.sleep(for: interval)
                }
            }
        }
    }

    func run(_ restore: String, running: RunningSessions) async {
        var logger = self.logger
        logger[metadataKey: "restore"] = "\(restore)"
        do {
            let report = try await manager.run(restore: restore)
            logger.notice("restore finished", metadata: ["result": "\(report.finished.result)"])
            running.succeeded(restore)
        } catch let error as RestoreError where error.code == .busy {
            // Another process runs it; look again after a while rather than every second.
            _ = running.failed(restore, now: ContinuousClock.now, base: .seconds(5), cap: .seconds(5))
        } catch is CancellationError {
            logger.notice("restore interrupted by shutdown; it resumes at the next start")
        } catch {
            let attempt = running.failed(restore, now: ContinuousClock.now, base: .seconds(5), cap: .seconds(600))
            logger.error("restore failed to run; trying again later", metadata: ["error": "\(error)", "attempt": "\(attempt)"])
        }
    }
}
