import Catalog
import CatalogStore
import EventStore
import Foundation
import JobManager
import Logging
import Secrets
import WorkflowEvents

/// How a proxy process behaves.
public struct ProxyAgentSettings: Sendable {
    /// The host's identity key for the proxy, which the catalog must have enrolled.
    public var identity: ProxyIdentity
    /// Where it is kept, for messages.
    public var keyFile: String
    /// Tasks at once; nil takes the proxy's catalog limit.
    public var maxTasks: Int?
    /// How often the process says it is alive. Defaults to 2 s.
    public var heartbeatInterval: Duration
    /// How long without a heartbeat before the process counts as dead (its tasks move to
    /// another proxy, and it stops them itself). Defaults to 10 s.
    public var leaseSeconds: Double
    /// How often it looks for tasks and for tasks taken back. Defaults to 250 ms.
    public var pollInterval: Duration
    /// How often it checks again what it reaches (servers added to the catalog, shares
    /// mounted or gone). Defaults to 60 s.
    public var reachInterval: Duration
    /// The version it reports.
    public var version: String

    public init(
        identity: ProxyIdentity, keyFile: String, maxTasks: Int? = nil, heartbeatInterval: Duration = .seconds(2),
        leaseSeconds: Double = 10, pollInterval: Duration = .milliseconds(250), reachInterval: Duration = .seconds(60), version: String
    ) {
        self.identity = identity
        self.keyFile = keyFile
        self.maxTasks = maxTasks
        self.heartbeatInterval = heartbeatInterval
        self.leaseSeconds = leaseSeconds
        self.pollInterval = pollInterval
        self.reachInterval = reachInterval
        self.version = version
    }
}

/// `tidemark proxy run NAME`: a catalog proxy as a process on any host that reaches the
/// database and the repository.
///
/// It registers (`ProxyProcessStarted`: host, version, transport modes, what it reaches, its
/// task limit, the public key logins are sealed to), heartbeats, takes the tasks the Job
/// Managers assign to it and moves their bytes (`TransferExecution`, the embedded mover's
/// code), reporting checkpoints and ends through the database. Should its lease run out (it
/// could not heartbeat in time: a frozen process, a cut link), it stops every task itself
/// before the Job Manager gives them to another, and registers again as a new process. On
/// SIGTERM it hands its tasks back (they resume elsewhere at once) and ends as stopped.
public final class ProxyAgent: Sendable {
    let name: String
    let store: EventStore
    let adapters: AdapterFactory
    let settings: ProxyAgentSettings
    let logger: Logger
    let mailbox: ProxyMailbox
    let running = RunningTasks()
    let throttles = SessionThrottles()
    let servers: ServerDefinitions
    /// Rings with this process's instance id when a task is assigned to it or taken back.
    let doorbell: Doorbell

    public init(name: String, store: EventStore, adapters: AdapterFactory, settings: ProxyAgentSettings, logger: Logger) {
        self.name = name
        self.store = store
        self.adapters = adapters
        self.settings = settings
        var logger = logger
        logger[metadataKey: "proxy"] = "\(name)"
        self.logger = logger
        self.mailbox = ProxyMailbox(pool: store.pool)
        self.servers = ServerDefinitions(store: store, logger: logger)
        self.doorbell = Doorbell(settings: store.pool.configuration.settings, channel: "tidemark_proxy_tasks", logger: logger)
    }

    /// What the process registered as, for its caller's messages.
    public struct Registered: Sendable {
        public let instance: String
        public let proxyName: String
        public let host: String
        public let maxTasks: Int
        public let reach: ProxyProcessEvent.Reach
    }

    /// Runs until cancelled (then hands its tasks back and ends as stopped). `registered` is
    /// called each time it registers (once, and again after a lost lease).
    public func run(registered: @escaping @Sendable (Registered) -> Void = { _ in }) async throws {
        let catalog = try await CatalogStore(events: store, logger: logger).load()
        let (proxyID, definition) = try Self.proxy(named: name, in: catalog)
        try checkEnrolled(definition)
        let maxTasks = settings.maxTasks ?? definition.maxConcurrentTasks
        let host = ProcessInfo.processInfo.hostName
        // The instance that lost its lease, while a new one registers.
        var previous: String?
        while true {
            // Stopped while no instance is registered: nothing to hand back.
            if Task.isCancelled { return }
            let key = CredentialSeal.KeyPair()
            let instance = UUID().uuidString.lowercased()
            let reach: ProxyProcessEvent.Reach
            do {
                let catalog = try await CatalogStore(events: store, logger: logger).load()
                // Enrolled again for another host (or revoked) while this one ran: stop here.
                if let now = catalog.proxies[proxyID]?.definition { try checkEnrolled(now) }
                reach = await ProxyReach.check(catalog)
            } catch let error as ProxyAgentError {
                throw error
            } catch is CancellationError {
                return
            } catch {
                // The database is out of reach (a cut link, a restart): try again shortly.
                logger.warning("could not read the catalog to register; trying again", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: settings.heartbeatInterval * 2)
                continue
            }
            let registration = ProxyMailbox.Registration(
                instance: instance, proxyID: proxyID, proxyName: definition.name, host: host, pid: Int(getpid()), version: settings.version,
                transportModes: definition.transportModes.map(\.rawValue), reach: reach, maxTasks: maxTasks,
                publicKey: key.publicKey, leaseSeconds: settings.leaseSeconds, identityKey: settings.identity.publicKey,
                signature: RegistrationProof.sign(settings.identity, instance: instance, proxyID: proxyID, agreementKey: key.publicKey))
            do {
                try await mailbox.register(registration)
            } catch let error as ProxyAgentError where error.code == .alreadyRunning && previous != nil {
                // Our previous instance may still count as live (its last heartbeat arrived
                // though the answer did not): it lapses within a lease.
                logger.warning("previous instance still counts as live; registering again shortly", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: settings.heartbeatInterval)
                continue
            } catch let error as ProxyAgentError {
                throw error
            } catch is CancellationError {
                return
            } catch {
                // The database is out of reach (a cut link, a restart): try again shortly.
                logger.warning("could not register; trying again", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: settings.heartbeatInterval * 2)
                continue
            }
            try await record(
                .started, instance: instance,
                ProxyProcessEvent.Started(
                    instanceId: instance, proxyId: proxyID, proxyName: definition.name, host: host, pid: registration.pid,
                    version: settings.version, transportModes: registration.transportModes, reach: reach, maxTasks: maxTasks,
                    leaseSeconds: settings.leaseSeconds, identityFingerprint: settings.identity.fingerprint))
            logger.notice(
                "proxy process registered", metadata: ["instance": "\(instance)", "host": "\(host)", "max_tasks": "\(maxTasks)"])
            registered(Registered(instance: instance, proxyName: definition.name, host: host, maxTasks: maxTasks, reach: reach))
            do {
                try await serve(instance: instance, proxyID: proxyID, key: key, reach: reach)
            } catch let error as ProxyAgentError where error.code == .leaseLost {
                logger.warning("lease lost: tasks stopped, registering again", metadata: ["instance": "\(instance)", "reason": "\(error)"])
                // Their repository writes are fenced already; a task stuck in a report on a
                // cut link ends when the link returns.
                _ = try? await within(settings.leaseSeconds) { [running] in await running.cancelAllAndWait() }
                previous = instance
                continue
            } catch {
                let stopping = Task.isCancelled || error is CancellationError
                await stop(instance: instance, proxyID: proxyID, reason: stopping ? "stopped (SIGTERM or SIGINT)" : "stopped: \(error)")
                if stopping { return }
                throw error
            }
        }
    }

    /// The catalog's proxy of that name, or why there is none (with the names there are).
    public static func proxy(named name: String, in catalog: CatalogState) throws -> (UUIDString, ProxyDefinition) {
        guard let proxyID = catalog.id(of: ProxyDefinition.self, named: name), let definition = catalog.proxies[proxyID]?.definition
        else {
            let known = catalog.proxies.values.map(\.definition.name).sorted()
            throw ProxyAgentError(
                .unknownProxy,
                "the catalog has no proxy '\(name)'"
                    + (known.isEmpty ? "; add one with 'tidemark proxy add \(name)'" : "; its proxies: \(known.joined(separator: ", "))"))
        }
        return (proxyID, definition)
    }

    /// Refuses to run a proxy whose enrolled key is not this host's: the Job Manager would give
    /// such a process no task (what to run where is in the message).
    private func checkEnrolled(_ definition: ProxyDefinition) throws {
        let mine = settings.identity
        let enrol = "on the backup server run: tidemark proxy enrol \(definition.name) --public-key \(mine.publicKeyText)"
        guard let enrolled = definition.enrolledKey else {
            throw ProxyAgentError(
                .notEnrolled,
                "proxy '\(definition.name)' has no enrolled host; to enrol this one (key \(mine.fingerprint), in \(settings.keyFile)), \(enrol)"
            )
        }
        guard ProxyIdentity.publicKey(from: enrolled) == mine.publicKey else {
            let theirs = ProxyIdentity.publicKey(from: enrolled).map(ProxyIdentity.fingerprint(of:)) ?? "unreadable"
            throw ProxyAgentError(
                .notEnrolled,
                "proxy '\(definition.name)' is enrolled for another host's key (\(theirs)), not this host's (\(mine.fingerprint), in \(settings.keyFile)): run it on that host, or to move it here \(enrol)"
            )
        }
    }

    /// Heartbeats and takes tasks until the lease is lost (throws `leaseLost`) or the caller
    /// is cancelled.
    private func serve(
        instance: String, proxyID: String, key: CredentialSeal.KeyPair, reach: ProxyProcessEvent.Reach
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.heartbeat(instance: instance) }
            group.addTask { try await self.watchReach(instance: instance, proxyID: proxyID, registered: reach) }
            group.addTask {
                try await self.doorbell.listening { try await self.pollLoop(instance: instance, key: key) }
            }
            // Both loops end only by throwing: the first error ends the other.
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// Looks for tasks when the doorbell rings (a task assigned or taken back), and at least
    /// every poll interval.
    private func pollLoop(instance: String, key: CredentialSeal.KeyPair) async throws {
        while true {
            let seen = doorbell.rings(of: instance)
            do {
                try await within(self.settings.leaseSeconds) { try await self.poll(instance: instance, key: key) }
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                // The heartbeat decides whether the process may go on; a look that
                // failed is tried again.
                self.logger.warning("could not look for tasks", metadata: ["error": "\(error)"])
            }
            await doorbell.wait(for: instance, after: seen, upTo: settings.pollInterval)
            try Task.checkCancellation()
        }
    }

    /// Checks what the process reaches every `reachInterval` and, when it changed, updates its
    /// row (the Job Manager chooses by it) and records `ProxyProcessReachChanged`. Ends only by
    /// cancellation; a failed check is tried again at the next interval.
    private func watchReach(instance: String, proxyID: String, registered: ProxyProcessEvent.Reach) async throws {
        var current = registered
        // A change counts once two checks in a row agree on it: one probe that timed out does
        // not take a vCenter away from the process for a whole interval.
        var seen: ProxyProcessEvent.Reach?
        while true {
            try await Task.sleep(for: seen == nil ? settings.reachInterval : min(settings.reachInterval, .seconds(5)))
            do {
                let now = await ProxyReach.check(try await CatalogStore(events: store, logger: logger).load())
                guard now != current else {
                    seen = nil
                    continue
                }
                guard now == seen else {
                    seen = now
                    continue
                }
                seen = nil
                guard try await mailbox.updateReach(instance: instance, reach: now) else { continue }
                try await record(
                    .reachChanged, instance: instance,
                    ProxyProcessEvent.ReachChanged(instanceId: instance, proxyId: proxyID, proxyName: name, reach: now))
                logger.notice(
                    "what the process reaches changed",
                    metadata: ["servers": "\(now.servers.keys.sorted())", "before": "\(current.servers.keys.sorted())"])
                current = now
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                logger.warning("could not check what the process reaches; trying again later", metadata: ["error": "\(error)"])
            }
        }
    }

    /// The heartbeat loop. The lease is measured from the last heartbeat the database took:
    /// past it, the process stops its tasks itself (another proxy may have them by now).
    private func heartbeat(instance: String) async throws {
        let line = HeartbeatLine(settings: store.pool.configuration.settings)
        defer { line.drop() }
        let clock = ContinuousClock()
        var lastBeat = clock.now
        while true {
            do {
                // A heartbeat that does not answer before the lease would lapse counts as
                // failed: on a cut link the query waits in the kernel, not for us.
                let left = settings.leaseSeconds - (clock.now - lastBeat).seconds
                let count = running.count
                // The lease the database grants runs from when it took the heartbeat, which is
                // after it was sent: counting from the send keeps this side's view the shorter.
                let sent = clock.now
                let alive: Bool
                do {
                    alive = try await within(left) { try await line.beat(instance: instance, running: count) }
                } catch let deadline as DeadlinePassed {
                    line.drop()
                    throw deadline
                }
                guard alive else {
                    throw ProxyAgentError(.leaseLost, "the database no longer counts process \(instance) as live")
                }
                lastBeat = sent
            } catch let error as ProxyAgentError {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                let silent = (clock.now - lastBeat).seconds
                logger.warning("heartbeat failed", metadata: ["error": "\(error)", "seconds_since_last": "\(silent)"])
                if silent >= settings.leaseSeconds {
                    throw ProxyAgentError(
                        .leaseLost, "no heartbeat reached the database for \(Int(silent)) s (lease \(settings.leaseSeconds) s)")
                }
            }
            try await Task.sleep(for: settings.heartbeatInterval)
        }
    }

    /// Starts the tasks assigned since the last look, and stops those taken back.
    private func poll(instance: String, key: CredentialSeal.KeyPair) async throws {
        // A stopping process takes no task: what it takes, it would only hand back.
        guard running.beginLooking() else { return }
        defer { running.endLooking() }
        // New tasks start first (the Job Manager waits for them); then the tasks taken back
        // are stopped and those lost track of handed back, the new ones counted as running.
        for assignment in try await mailbox.take(instance: instance) {
            let entryKey = RunningTasks.key(assignment.session, assignment.task, assignment.token)
            let handle = Task {
                await self.execute(assignment, key: key)
                self.running.remove(entryKey)
            }
            running.add(.init(session: assignment.session, task: assignment.task, token: assignment.token, handle: handle))
        }
        let (revoked, handedBack, rates) = try await mailbox.reconcile(instance: instance, running: running.keys)
        // A session's rate here: the shares the Job Manager gave the tasks this process holds.
        for (session, rate) in throttles.apply(rates).sorted(by: { $0.key < $1.key }) {
            logger.info("session throttle changed", metadata: ["session": "\(session)", "bytes_per_second": "\(rate)"])
        }
        if handedBack > 0 { logger.warning("handed back tasks this process had lost track of", metadata: ["tasks": "\(handedBack)"]) }
        if !revoked.isEmpty {
            logger.notice("tasks taken back", metadata: ["tasks": "\(revoked.sorted())"])
            running.cancel(revoked)
        }
    }

    /// Ends the process cleanly: its tasks handed back, `ProxyProcessStopped` recorded; its
    /// proxy is embedded again until a process runs it.
    private func stop(instance: String, proxyID: String, reason: String) async {
        let work = Task.detached { [self] in
            // Still alive while the tasks wind down, so their hand-back reports are taken.
            let line = HeartbeatLine(settings: store.pool.configuration.settings)
            let beating = Task {
                while !Task.isCancelled {
                    _ = try? await within(settings.leaseSeconds) { [running] in
                        try await line.beat(instance: instance, running: running.count)
                    }
                    try? await Task.sleep(for: settings.heartbeatInterval)
                }
            }
            await running.close(waitingUpTo: settings.leaseSeconds)
            // A task stuck (a cut link, a hung read) does not hold the stop for ever: its
            // assignment is handed back with the process's end below.
            _ = try? await within(settings.leaseSeconds * 3) { [running] in await running.cancelAllAndWait() }
            beating.cancel()
            line.drop()
            do {
                guard try await mailbox.end(instance: instance) else {
                    logger.warning("the process had already been declared lost; its tasks moved on")
                    return
                }
                try await record(
                    .stopped, instance: instance,
                    ProxyProcessEvent.Ended(instanceId: instance, proxyId: proxyID, proxyName: name, reason: reason))
            } catch {
                logger.error("could not record the process's stop", metadata: ["error": "\(error)"])
            }
        }
        await work.value
        logger.notice("proxy process stopped", metadata: ["instance": "\(instance)"])
    }

    func record<Payload: Encodable>(_ kind: ProxyProcessEvent.Kind, instance: String, _ payload: Payload) async throws {
        try await store.append(
            to: try StreamName(ProxyProcessEvent.stream(of: instance)),
            expectedVersion: kind == .started ? .noStream : .any,
            events: [
                try NewEvent(
                    type: kind.rawValue, payload: payload,
                    metadata: EventMetadata(
                        correlationID: UUID(uuidString: instance), actor: "proxy:\(name)", host: ProcessInfo.processInfo.hostName))
            ])
    }
}
