import BlockingIO
import CatalogStore
import EventStore
import Foundation
import Logging
import NBD
import Postgres
import Repository
import WorkflowEvents

/// Instant access: a restore point's disks served over NBD, each publish a session of its own
/// (`publish-<uuid>`). The address is bound before anything is recorded, so a refused publish
/// (an unknown VM or disk, an address in use) records nothing; then the request and the start
/// go into the log together, each client as it connects, and the stop with what was served.
/// While it serves, the repository is held with a shared lock: retention and garbage
/// collection wait rather than delete what is read.
public struct PublishManager: Sendable {
    /// Told the VM's name and the point's job (nil when not recorded) before anything is
    /// recorded; throws to refuse.
    public typealias Admission = @Sendable (_ vmName: String, _ jobID: String?) throws -> Void

    public let store: EventStore
    /// Where a repository service's token and staging folder are.
    let settings: JobManagerSettings
    let logger: Logger

    public init(store: EventStore, settings: JobManagerSettings, logger: Logger = Logger(label: "tidemark.publish")) {
        self.store = store
        self.settings = settings
        self.logger = logger
    }

    /// What was opened for a publish: the exports and the lock that holds their repository.
    struct Opened: Sendable {
        let requested: PublishEvent.Requested
        let exports: [NBDExport]
        let lock: RepositoryHold
    }

    /// Opens again what a recorded publish serves: its point's disks, its overlays (kept in
    /// their folder across the crash), the repository's lock.
    func reopen(_ requested: PublishEvent.Requested) async throws -> Opened {
        let restores = RestoreManager(store: store, settings: settings, logger: logger)
        let catalog = try await restores.catalog.load()
        guard let definition = catalog.repositories[requested.repositoryId]?.definition else {
            throw RestoreError(.invalidRequest, "repository '\(requested.repositoryName)' is no longer in the catalog")
        }
        let repository = try await RestorePlanner(manager: restores).openStore(definition, id: requested.repositoryId)
        let (manifests, lock) = try await PointDisks.manifests(
            requested.disks.map(\.disk), of: requested.restorePointId, in: repository)
        return Opened(
            requested: requested, exports: try await Self.exports(manifests, repository: repository, requested: requested), lock: lock)
    }

    /// The exports of a publish: each disk from the point, under its overlay when writable.
    static func exports(
        _ manifests: [DiskManifest], repository: any RepositoryStore, requested: PublishEvent.Requested
    ) async throws
        -> [NBDExport]
    {
        let overlayFolder = requested.overlayFolder
        let point = requested.restorePointId
        return try await BlockingIOPool.shared.run { () throws -> [NBDExport] in
            if let overlayFolder {
                try FileManager.default.createDirectory(
                    atPath: overlayFolder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            }
            return try manifests.map { manifest in
                let base = RestorePointExport(manifest: manifest, repository: repository)
                return NBDExport(
                    name: manifest.disk,
                    description:
                        "\(requested.vmName) \(manifest.disk) from restore point \(point)\(overlayFolder == nil ? "" : ", writable")",
                    backend: try overlayFolder.map { try OverlayExport(base: base, folder: $0, name: manifest.disk) } ?? base)
            }
        }
    }

    /// Checks the order and opens the point's disks; nothing is recorded. `admit` sees the VM
    /// and the point's job first and may refuse (the API's check of a restore operator's limit).
    func open(_ order: PublishOrder, publish: String, admit: Admission) async throws -> Opened {
        let address = try Self.address(order.listen)
        let chosen = try await PointDisks.choose(
            vm: order.vm, point: order.point, disk: order.disk, store: store, settings: settings, logger: logger)
        let (record, repositoryID, definition, repository) = (chosen.record, chosen.repositoryID, chosen.definition, chosen.repository)
        try admit(record.point.vmName ?? order.vm, record.point.jobId)
        let point = record.point.restorePointId
        let (manifests, lock) = try await PointDisks.manifests(chosen.names, of: point, in: repository)
        let requested = PublishEvent.Requested(
            publishId: publish, vmId: record.point.vmId, vmName: record.point.vmName ?? order.vm, restorePointId: point,
            pointCreatedAt: record.createdAt, repositoryId: repositoryID, repositoryName: definition.name,
            disks: manifests.map {
                PublishEvent.Disk(disk: $0.disk, key: Int($0.disk.dropFirst("disk-".count)) ?? -1, sizeBytes: $0.diskSize)
            },
            listen: address.description, writable: order.writable, reason: order.reason,
            overlayFolder: try order.writable ? Self.overlayFolder(order, publish: publish, repository: definition.folderURL?.path) : nil,
            keepOverlay: order.writable ? order.keepOverlay : nil)
        return Opened(
            requested: requested, exports: try await Self.exports(manifests, repository: repository, requested: requested), lock: lock)
    }

    /// This publish's overlay folder: `<folder>/<publish>`, never inside the repository.
    /// `repository`: the repository's folder (nil for a service, whose files are on another host).
    static func overlayFolder(_ order: PublishOrder, publish: String, repository: String?) throws -> String {
        guard let folder = order.overlayFolder, folder.hasPrefix("/") else {
            throw RestoreError(.invalidRequest, "--writable needs an absolute --overlay-folder for the copy-on-write overlays")
        }
        let standardized = URL(fileURLWithPath: folder).standardizedFileURL.resolvingSymlinksInPath().path
        guard let repository else { return (standardized as NSString).appendingPathComponent(publish) }
        let repositoryPath = URL(fileURLWithPath: repository).standardizedFileURL.resolvingSymlinksInPath().path
        guard standardized != repositoryPath, !standardized.hasPrefix(repositoryPath + "/") else {
            throw RestoreError(
                .invalidRequest,
                "the overlay folder \(folder) is inside the repository \(repository): a publish never writes into a repository; choose another"
            )
        }
        return (standardized as NSString).appendingPathComponent(publish)
    }

    static func address(_ text: String) throws -> NBDServer.Address {
        do {
            return try NBDServer.Address.parse(text)
        } catch let error as NBDError {
            throw RestoreError(.invalidRequest, "--listen: \(error.description)")
        }
    }

    /// Publishes and serves until a stop is recorded (`stop`) or the task is cancelled (the
    /// command's Ctrl-C, a server's shutdown); `started` is told the publish and the address
    /// bound once clients may connect. Returns the figures recorded at the stop.
    public func publish(
        _ order: PublishOrder, metadata: EventMetadata, admit: Admission = { _, _ in }, keepAcrossRestarts: Bool = false,
        started: @Sendable (String, String) -> Void
    ) async throws -> PublishEvent.Stopped {
        let publish = UUID().uuidString.lowercased()
        let opened = try await open(order, publish: publish, admit: admit)
        let clients = AsyncStream<String>.makeStream()
        let server = NBDServer(exports: opened.exports, logger: logger) { clients.continuation.yield($0) }
        let recorder: PublishRecorder
        let address: NBDServer.Address
        let slots = try await TaskSlots(settings: store.pool.configuration.settings)
        do {
            guard try await slots.own(session: publish) else { throw RestoreError(.busy, "publish \(publish) is held by another process") }
            var metadata = metadata
            metadata.correlationID = UUID(uuidString: publish)
            recorder = try PublishRecorder(store: store, publish: publish, metadata: metadata)
            address = try await Self.start(server, on: opened.requested.listen)
            do {
                try await recorder.record([
                    try .init(.requested, opened.requested),
                    try .init(
                        .started,
                        PublishEvent.Started(
                            address: address.description, host: ProcessInfo.processInfo.hostName,
                            processId: Int(ProcessInfo.processInfo.processIdentifier))),
                ])
            } catch {
                await BlockingIOPool.shared.run { server.stop() }
                throw error
            }
        } catch {
            // Nothing recorded: nothing of this publish stays (its overlays, its claim).
            await slots.close()
            if let folder = opened.requested.overlayFolder {
                await BlockingIOPool.shared.run { try? FileManager.default.removeItem(atPath: folder) }
            }
            throw error
        }
        return try await serveUntilStopped(
            publish, opened: opened, server: server, clients: clients, recorder: recorder, slots: slots, address: address,
            started: started, endWhenInterrupted: !keepAcrossRestarts)
    }

    /// Serves again a publish whose process died without recording its stop (`tidemark server`
    /// on the host that served it): the same point, overlays and address, `PublishStarted`
    /// recorded again with `resumed`. A stop asked for meanwhile ends it at once.
    public func resume(_ publish: String, started: @Sendable (String, String) -> Void) async throws -> PublishEvent.Stopped {
        let stream = try StreamName(PublishEvent.stream(of: publish))
        let events = try await store.readStream(stream, limit: 1_000_000)
        let decoder = PublishEvent.decoder()
        guard let first = events.first, let requested = try? decoder.decode(PublishEvent.Requested.self, from: Data(first.data.utf8)),
            let lastStart = events.last(where: { $0.type == PublishEvent.Kind.started.rawValue }),
            let previous = try? decoder.decode(PublishEvent.Started.self, from: Data(lastStart.data.utf8)),
            !events.contains(where: { $0.type == PublishEvent.Kind.stopped.rawValue })
        else { throw RestoreError(.noSuchRestore, "there is no unstopped publish \(publish) to resume") }
        let opened = try await reopen(requested)
        let clients = AsyncStream<String>.makeStream()
        let server = NBDServer(exports: opened.exports, logger: logger) { clients.continuation.yield($0) }
        let slots = try await TaskSlots(settings: store.pool.configuration.settings)
        let recorder: PublishRecorder
        let address: NBDServer.Address
        do {
            guard try await slots.own(session: publish) else {
                throw RestoreError(.busy, "publish \(publish) is served by another process")
            }
            recorder = try PublishRecorder(
                store: store, publish: publish,
                metadata: EventMetadata(
                    correlationID: UUID(uuidString: publish), actor: "publish-runner", host: ProcessInfo.processInfo.hostName),
                version: events.last?.streamVersion ?? 0)
            address = try await Self.start(server, on: previous.address)
            do {
                // At the version read before the claim: a stop recorded meanwhile (another
                // server finished it, `publish stop`) refuses the append, and this run ends.
                try await recorder.record(
                    [
                        try .init(
                            .started,
                            PublishEvent.Started(
                                address: address.description, host: ProcessInfo.processInfo.hostName,
                                processId: Int(ProcessInfo.processInfo.processIdentifier), resumed: true))
                    ], at: events.last?.streamVersion ?? 0)
            } catch {
                await BlockingIOPool.shared.run { server.stop() }
                if let error = error as? EventStoreError, error.code == .wrongExpectedVersion {
                    throw RestoreError(
                        .busy, "publish \(publish) changed while it was being served again (stopped, or taken by another server)")
                }
                throw error
            }
        } catch {
            await slots.close()
            throw error
        }
        return try await serveUntilStopped(
            publish, opened: opened, server: server, clients: clients, recorder: recorder, slots: slots, address: address,
            started: started, endWhenInterrupted: false)
    }

    /// Serves until a stop is recorded or the task is cancelled, then stops the server (every
    /// client thread ended), ends the overlays and records `PublishStopped`. A server's
    /// shutdown (`endWhenInterrupted` false) is no stop: the overlays are flushed and kept, the
    /// claim let go, nothing recorded, and the next start serves the publish again.
    private func serveUntilStopped(
        _ publish: String, opened: Opened, server: NBDServer,
        clients: (stream: AsyncStream<String>, continuation: AsyncStream<String>.Continuation),
        recorder: PublishRecorder, slots: TaskSlots, address: NBDServer.Address, started: @Sendable (String, String) -> Void,
        endWhenInterrupted: Bool = true
    ) async throws -> PublishEvent.Stopped {
        try await withClosing(slots) { _ in
            logger.notice("publish serving", metadata: ["publish": "\(publish)", "address": "\(address)"])
            started(publish, address.description)
            var reason = await serve(publish, recorder: recorder, clients: clients.stream)
            clients.continuation.finish()
            // Every client thread ended before the overlays are closed and the lock let go.
            await BlockingIOPool.shared.run { server.stop() }
            if !endWhenInterrupted && Task.isCancelled && reason.hasPrefix("interrupted") {
                let overlays = opened.exports.compactMap { $0.backend as? OverlayExport }
                try? await BlockingIOPool.shared.run { () throws in for overlay in overlays { try overlay.flush() } }
                opened.lock.release()
                throw CancellationError()
            }
            let figures = server.figures
            var overlayKept: String?
            var overlayError: (any Error)?
            do {
                overlayKept = try await Self.endOverlays(opened)
            } catch {
                overlayError = error
                reason += "; the overlay could not be kept: \(error)"
            }
            let stopped = PublishEvent.Stopped(
                clients: figures.clients, reads: figures.reads, bytesRead: figures.bytesRead, writes: figures.writes,
                bytesWritten: figures.bytesWritten, errors: figures.errors, reason: reason, overlayKept: overlayKept)
            // Recorded even when this task was cancelled (Ctrl-C, a server's shutdown): an
            // unstructured task does not inherit the cancellation.
            try await Task { try await recorder.record([try .init(.stopped, stopped)]) }.value
            opened.lock.release()
            if let overlayError { throw overlayError }
            return stopped
        }
    }

    /// Binds the server off the cooperative pool; a refusal (an address in use) is the
    /// publish's error, with the reason.
    static func start(_ server: NBDServer, on text: String) async throws -> NBDServer.Address {
        let listen = try address(text)
        return try await BlockingIOPool.shared.run { () throws -> NBDServer.Address in
            do {
                return try server.start(listen)
            } catch let error as NBDError {
                throw RestoreError(.invalidRequest, error.description)
            }
        }
    }

    /// The overlays at the stop: flushed and kept (their folder returned), or discarded.
    static func endOverlays(_ opened: Opened) async throws -> String? {
        guard let folder = opened.requested.overlayFolder else { return nil }
        let keep = opened.requested.keepOverlay == true
        let overlays = opened.exports.compactMap { $0.backend as? OverlayExport }
        return try await BlockingIOPool.shared.run { () throws -> String? in
            if keep {
                for overlay in overlays { try overlay.flush() }
                return folder
            }
            try? FileManager.default.removeItem(atPath: folder)
            return nil
        }
    }

    /// Records each client as it connects and looks for a stop every second; returns why it ended.
    private func serve(_ publish: String, recorder: PublishRecorder, clients: AsyncStream<String>) async -> String {
        await withTaskGroup(of: String?.self) { group in
            group.addTask {
                for await client in clients {
                    try? await recorder.record([try .init(.clientConnected, PublishEvent.ClientConnected(client: client))])
                }
                return nil
            }
            group.addTask {
                while !Task.isCancelled {
                    if let stop = try? await recorder.stopRequest() { return stop }
                    try? await Task.sleep(for: .seconds(1))
                }
                return "interrupted (the serving process was asked to end)"
            }
            var reason = "interrupted"
            for await result in group {
                if let result {
                    reason = result
                    group.cancelAll()
                    break
                }
            }
            return reason
        }
    }
}
