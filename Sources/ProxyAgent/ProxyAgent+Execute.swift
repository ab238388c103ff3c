import BlockingIO
import Catalog
import CatalogStore
import DataMover
import EventStore
import Foundation
import Infrastructure
import JobManager
import Repository
import Secrets
import Synchronization
import WorkflowEvents

extension ProxyAgent {
    /// One assigned task: the login opened with this process's key, the server opened through
    /// the adapter factory, the repository opened at the order's path, the transfer run under
    /// the task's fencing token with each checkpoint reported; then the end reported. A report
    /// refused (the task moved on) stops the transfer; a cancellation by shutdown hands it back.
    func execute(_ assignment: ProxyMailbox.Assignment, key: CredentialSeal.KeyPair) async {
        let order = assignment.order
        var logger = self.logger
        logger[metadataKey: "session"] = "\(assignment.session)"
        logger[metadataKey: "task"] = "\(assignment.task)"
        logger[metadataKey: "token"] = "\(assignment.token)"
        var scrubber = SecretScrubber()
        logger.info("task started", metadata: ["vm": "\(order.vmName)", "disk": "\(order.disk)"])
        let clock = ContinuousClock(), began = clock.now
        func milliseconds(since start: ContinuousClock.Instant) -> Int { Int(((clock.now - start).seconds * 1000).rounded()) }
        do {
            let binding = CredentialSeal.Binding(session: assignment.session, task: assignment.task, token: assignment.token)
            let login = try assignment.sealed.map { try CredentialSeal.open($0, with: key, for: binding) }
            if let login { scrubber.add(login.secret) }
            guard let server = try await servers.server(order.serverId, version: order.serverVersion) else {
                throw ProxyAgentError(
                    .invalidTask, "task \(assignment.task): its managed server \(order.serverId) is no longer in the catalog")
            }
            let opened = try await adapters.open(
                server, for: "proxy '\(name)', task \(assignment.task)", secrets: nil, handedOver: login, logger: logger)
            let mailbox = self.mailbox
            let report: TransferReport
            let opening = milliseconds(since: began), moving = clock.now
            do {
                report = try await transfer(assignment, adapter: opened.adapter)
            } catch {
                await opened.adapter.disconnect()
                throw error
            }
            await opened.adapter.disconnect()
            let transferring = milliseconds(since: moving), reporting = clock.now
            let accepted = try await uncancelled { [lease = settings.leaseSeconds] in
                try await within(lease) { try await mailbox.report(assignment, state: "finished", outcome: report) }
            }
            logger.info(
                accepted ? "task finished" : "task finished, but it had moved on meanwhile: the report was refused",
                metadata: [
                    "read_bytes": "\(report.bytesRead)", "written_bytes": "\(report.bytesTransferred)", "open_ms": "\(opening)",
                    "transfer_ms": "\(transferring)", "report_ms": "\(milliseconds(since: reporting))",
                ])
        } catch let error as ProxyAgentError where error.code == .taskMoved {
            logger.notice("task stopped: it moved to another holder")
        } catch let error as RepositoryError where error.code == .fenced {
            logger.notice("task stopped: the repository refused a stale write", metadata: ["reason": "\(error.message)"])
        } catch {
            if Task.isCancelled || error is CancellationError {
                // Taken back (then the report is refused, harmlessly) or the process stops.
                _ = try? await uncancelled { [lease = settings.leaseSeconds, mailbox] in
                    try await within(lease) {
                        try await mailbox.report(assignment, state: "abandoned", message: "the proxy process stopped the task")
                    }
                }
                logger.notice("task handed back")
                return
            }
            let message = scrubber.scrub("\(error)")
            logger.warning("task failed", metadata: ["error": "\(message)"])
            _ = try? await uncancelled { [lease = settings.leaseSeconds, mailbox] in
                try await within(lease) { try await mailbox.report(assignment, state: "failed", message: message) }
            }
        }
    }

    /// The transfer itself, on the repository at the order's path (the folder the Job Manager
    /// made, reached from this host), under the task's fencing token.
    private func transfer(_ assignment: ProxyMailbox.Assignment, adapter: any InfrastructureAdapter) async throws -> TransferReport {
        let order = assignment.order
        let repository = try await BlockingIOPool.shared.run { () throws(RepositoryError) in
            try BackupRepository.open(
                at: URL(fileURLWithPath: order.repositoryPath), compressionLevel: Int32(max(order.compressionLevel, 1)))
        }
        let mailbox = self.mailbox
        return try await TransferExecution.run(
            order, adapter: adapter, repository: repository, fenceToken: assignment.token,
            throttle: throttles.bucket(session: assignment.session, bytesPerSecond: order.throttleBytesPerSecond),
            logHead: { [store] in
                try await EventChain.head(of: store).map { DiskManifest.LogHead(position: $0.position, hash: $0.hash) }
            },
            checkpoint: { [lease = settings.leaseSeconds] progress in
                // Unanswered within the lease (a cut link), the transfer stops here: by then
                // the task may be another holder's.
                guard try await within(lease, { try await mailbox.report(assignment, state: "running", progress: progress) }) else {
                    throw ProxyAgentError(.taskMoved, "task \(assignment.task) was taken back from this process")
                }
            })
    }

    /// Runs `body` where a cancellation of the caller cannot reach it: a report that must be
    /// made while the process winds down.
    func uncancelled<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await Task.detached { try await body() }.value
    }
}

/// One token bucket per session on this process, shared by the session's tasks here. Its
/// rate is the sum of their throttle shares (`apply`, at each look at what the process
/// holds): the Job Manager divides the session's rate among every mover of its tasks, so the
/// session stays under its rule across processes. A new task's bucket starts at the share its
/// order carries, until the next look.
final class SessionThrottles: Sendable {
    private struct State {
        var buckets: [String: TokenBucket] = [:]
        /// Each session's rate here at the last look (its tasks' shares added up).
        var rates: [String: Int64] = [:]
    }

    private let state = Mutex(State())

    /// The session's bucket here, made at the rate of the last look (else the order's share).
    func bucket(session: String, bytesPerSecond: Int64?) -> TokenBucket? {
        guard let bytesPerSecond, bytesPerSecond > 0 else { return nil }
        return state.withLock { state in
            if let known = state.buckets[session] { return known }
            let made = TokenBucket(bytesPerSecond: Double(state.rates[session] ?? bytesPerSecond))
            state.buckets[session] = made
            return made
        }
    }

    /// The sessions' rates on this process now; a session no longer named holds no task here.
    /// Returns the rates that changed.
    func apply(_ rates: [String: Int64]) -> [String: Int64] {
        state.withLock { state in
            state.rates = rates
            var changed: [String: Int64] = [:]
            for (session, bucket) in state.buckets {
                guard let rate = rates[session], rate > 0 else {
                    state.buckets[session] = nil
                    continue
                }
                if bucket.bytesPerSecond != Double(rate) {
                    bucket.setRate(bytesPerSecond: Double(rate))
                    changed[session] = rate
                }
            }
            return changed
        }
    }
}
