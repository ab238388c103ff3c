import Catalog
import EventStore
import Foundation
import Infrastructure
import Secrets
import WorkflowEvents

extension JobManager {
    /// Checks a managed server the way a session would reach it (the same adapter factory,
    /// password reference and certificate rules): connects, logs in, reads what it says it is
    /// and what it holds, logs out. The intent is recorded before the connection and the
    /// outcome after, on the check's own stream, with `metadata`'s actor: who probed which
    /// vCenter, when, and what it answered stays in the log. A server that cannot be used is
    /// an outcome (`ok` false with the reason, scrubbed of its password), not an error.
    public func checkServer(_ server: ManagedServer, id: UUIDString, metadata: EventMetadata) async throws -> ServerCheckEvent.Finished {
        let check = UUID().uuidString.lowercased()
        let stream = try StreamName(ServerCheckEvent.stream(of: check))
        let started = ServerCheckEvent.Started(
            checkId: check, serverId: id, serverName: server.name, platform: server.platform.rawValue,
            location: server.url ?? server.folder ?? "")
        try await store.append(
            to: stream, expectedVersion: .noStream,
            events: [try NewEvent(type: ServerCheckEvent.Kind.started.rawValue, jsonData: Self.json(started), metadata: metadata)])
        let clock = ContinuousClock()
        let begun = clock.now
        var outcome = await probe(server, check: check)
        let elapsed = (clock.now - begun).components
        outcome.durationMilliseconds = elapsed.seconds * 1000 + elapsed.attoseconds / 1_000_000_000_000_000
        try await store.append(
            to: stream, expectedVersion: .exact(1),
            events: [try NewEvent(type: ServerCheckEvent.Kind.finished.rawValue, jsonData: Self.json(outcome), metadata: metadata)])
        logger.info(
            "server checked",
            metadata: ["server": "\(server.name)", "check": "\(check)", "ok": "\(outcome.ok)", "reason": "\(outcome.reason ?? "")"])
        return outcome
    }

    /// The connection itself; every failure becomes the outcome's reason.
    private func probe(_ server: ManagedServer, check: String) async -> ServerCheckEvent.Finished {
        var scrubber = SecretScrubber()
        do {
            let opened = try await adapters.open(server, for: "check of server '\(server.name)'", secrets: settings.secrets, logger: logger)
            for secret in opened.secrets { scrubber.add(secret) }
            do {
                let inventory = try await opened.adapter.inventory()
                let identity = try await opened.adapter.identity()
                await opened.adapter.disconnect()
                return ServerCheckEvent.Finished(
                    checkId: check, ok: true, certificateThumbprint: identity?.certificateThumbprint,
                    certificatePinned: identity?.certificateThumbprint == nil ? nil : server.thumbprint != nil,
                    product: identity?.product ?? "Tidemark lab",
                    api: identity?.api, datacenters: inventory.datacenters.count, hosts: inventory.hosts.count,
                    vms: inventory.virtualMachines.count, disks: inventory.virtualMachines.reduce(0) { $0 + $1.disks.count },
                    durationMilliseconds: 0)
            } catch {
                await opened.adapter.disconnect()
                throw error
            }
        } catch {
            let reason = scrubber.scrub(String(describing: error))
            return ServerCheckEvent.Finished(checkId: check, ok: false, reason: String(reason.prefix(2000)), durationMilliseconds: 0)
        }
    }

    private static func json(_ value: some Encodable) throws -> String {
        String(decoding: try SessionEvent.encoder().encode(value), as: UTF8.self)
    }
}
