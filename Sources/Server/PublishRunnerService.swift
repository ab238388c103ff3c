import Foundation
import JobManager
import Logging
import ServiceLifecycle

/// Serves again the publishes this host served when their process died (a crashed `tidemark
/// publish`, a server restarted): same point, overlays and address. Looks every `interval`;
/// a publish that cannot be served again (its repository gone, its address taken) is tried
/// again after a wait that doubles, and stays listed until someone stops it.
public struct PublishRunnerService: Service {
    let manager: PublishManager
    let interval: Duration
    let logger: Logger

    public init(manager: PublishManager, interval: Duration = .seconds(2), logger: Logger) {
        self.manager = manager
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        let running = RunningSessions()
        let host = ProcessInfo.processInfo.hostName
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                while !Task.isCancelled {
                    do {
                        for publish in try await manager.unstopped()
                        where !publish.serving && publish.host == host && !running.isRunning(publish.publish) {
                            guard running.claim(publish.publish, limit: 64, now: ContinuousClock.now) else { continue }
                            group.addTask {
                                await self.resume(publish.publish, running: running)
                                running.release(publish.publish)
                            }
                        }
                    } catch {
                        logger.error("cannot list publishes; trying again", metadata: ["error": "\(error)"])
                    }
                    try? await Task.sleep(for: interval)
                }
            }
        }
    }

    func resume(_ publish: String, running: RunningSessions) async {
        var logger = self.logger
        logger[metadataKey: "publish"] = "\(publish)"
        do {
            let served = logger
            let stopped = try await manager.resume(publish) { _, address in
                served.notice("publish served again after its process ended", metadata: ["address": "\(address)"])
            }
            logger.notice("publish stopped", metadata: ["reason": "\(stopped.reason)"])
            running.succeeded(publish)
        } catch is CancellationError {
            logger.notice("publish interrupted by shutdown; it is served again at the next start")
        } catch let error as RestoreError where error.code == .busy || error.code == .noSuchRestore {
            // Another server serves it, or it was stopped meanwhile: nothing to do here.
            logger.notice("publish not served again here", metadata: ["why": "\(error.message)"])
            running.succeeded(publish)
        } catch {
            let attempt = running.failed(publish, now: ContinuousClock.now, base: .seconds(5), cap: .seconds(300))
            logger.error("publish cannot be served again; trying later", metadata: ["error": "\(error)", "attempt": "\(attempt)"])
        }
    }
}
