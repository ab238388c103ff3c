import EventStore
import Foundation
import Postgres
import WorkflowEvents

extension PublishManager {
    /// Every publish not stopped yet, oldest first, and whether a process serves it now.
    public func unstopped() async throws -> [PublishSummary] {
        let open = try await store.openStreams(
            opened: PublishEvent.logKind(.requested), closedBy: PublishEvent.Kind.stopped.rawValue, field: PublishEvent.Field.publishId)
        let slots = try await TaskSlots(settings: store.pool.configuration.settings)
        return try await withClosing(slots) { slots in
            var summaries: [PublishSummary] = []
            for (stream, _) in open {
                guard let publish = PublishEvent.publish(inStream: stream) else { continue }
                let events = try await store.readStream(try StreamName(stream), limit: 1_000)
                guard let first = events.first,
                    let requested = try? PublishEvent.decoder().decode(PublishEvent.Requested.self, from: Data(first.data.utf8))
                else { continue }
                let started = events.last { $0.type == PublishEvent.Kind.started.rawValue }.flatMap {
                    try? PublishEvent.decoder().decode(PublishEvent.Started.self, from: Data($0.data.utf8))
                }
                summaries.append(
                    PublishSummary(
                        publish: publish, requested: requested, address: started?.address, host: started?.host,
                        actor: (try? first.metadata())?.actor,
                        serving: try await slots.inUse(TaskSlots.Owner.session, publish) > 0))
            }
            return summaries
        }
    }

    /// Asks the publish whose id starts with `prefix` to stop: the process serving it stops and
    /// records the end; one no process serves any more (killed) is recorded stopped here.
    /// Returns the publish and what it served, once the stop is recorded (or nil after `wait`).
    public func stop(
        _ prefix: String, metadata: EventMetadata, reason: String?, wait: Duration = .seconds(15)
    ) async throws -> (
        String, PublishEvent.Stopped?
    ) {
        let open = try await unstopped()
        let matching = open.filter { $0.publish.hasPrefix(prefix.lowercased()) }
        guard matching.count == 1, let chosen = matching.first else {
            let known = open.map { String($0.publish.prefix(8)) }.joined(separator: ", ")
            throw RestoreError(
                .invalidRequest,
                matching.isEmpty
                    ? "no publish being served has an id starting with '\(prefix)' (\(open.isEmpty ? "there are none" : "there are \(known)")): see 'tidemark publish list'"
                    : "'\(prefix)' starts several publishes' ids (\(known)): give more of it")
        }
        let stream = try StreamName(PublishEvent.stream(of: chosen.publish))
        let request = try NewEvent(
            type: PublishEvent.Kind.stopRequested.rawValue,
            jsonData: String(decoding: try PublishEvent.encoder().encode(PublishEvent.StopRequested(reason: reason)), as: UTF8.self),
            metadata: metadata)
        guard chosen.serving else {
            let stopped = PublishEvent.Stopped(
                clients: 0, reads: 0, bytesRead: 0, writes: 0, bytesWritten: 0, errors: 0,
                reason:
                    "stopped by \(metadata.actor ?? "?"): no process was serving it any more (it ended without recording its stop; its figures are lost)",
                // Its overlay is where it was, as flushed last: kept if it was to be kept.
                overlayKept: chosen.requested.keepOverlay == true ? chosen.requested.overlayFolder : nil
            )
            let end = try NewEvent(
                type: PublishEvent.Kind.stopped.rawValue,
                jsonData: String(decoding: try PublishEvent.encoder().encode(stopped), as: UTF8.self), metadata: metadata)
            // At the version read, after checking nothing ended it meanwhile: one end, never two.
            let events = try await store.readStream(stream, limit: 1_000_000)
            if let end = events.last(where: { $0.type == PublishEvent.Kind.stopped.rawValue }) {
                return (chosen.publish, try? PublishEvent.decoder().decode(PublishEvent.Stopped.self, from: Data(end.data.utf8)))
            }
            try await store.append(to: stream, expectedVersion: .exact(events.last?.streamVersion ?? 0), events: [request, end])
            return (chosen.publish, stopped)
        }
        try await store.append(to: stream, expectedVersion: .streamExists, events: [request])
        let deadline = ContinuousClock.now + wait
        while ContinuousClock.now < deadline {
            let events = try await store.readStream(stream, limit: 1_000_000)
            if let end = events.last(where: { $0.type == PublishEvent.Kind.stopped.rawValue }) {
                return (chosen.publish, try? PublishEvent.decoder().decode(PublishEvent.Stopped.self, from: Data(end.data.utf8)))
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        return (chosen.publish, nil)
    }
}

extension PublishManager {
    /// A stopped publish that kept its overlay (its id or the start of it): the VM, the
    /// restore point and the overlay's folder, for a disk restore that takes the overlay's
    /// writes (the migrate after instant access). Refused with why otherwise.
    public func keptOverlay(_ prefix: String) async throws -> (vm: String, point: String, folder: String) {
        let wanted = prefix.lowercased()
        guard !wanted.isEmpty, wanted.allSatisfy({ $0.isHexDigit || $0 == "-" }) else {
            throw RestoreError(.invalidRequest, "'\(prefix)' is not a publish's id: see 'tidemark session list' for publishes")
        }
        let streams = try await store.streams(category: PublishEvent.category, prefix: "publish-" + wanted, limit: 3)
        guard streams.count == 1, let stream = streams.first else {
            throw RestoreError(
                .invalidRequest,
                streams.isEmpty
                    ? "no publish has an id starting with '\(prefix)': see 'tidemark session list'"
                    : "'\(prefix)' starts several publishes' ids: give more of it")
        }
        let events = try await store.readStream(try StreamName(stream), limit: 1_000_000)
        let decoder = PublishEvent.decoder()
        guard let first = events.first, let requested = try? decoder.decode(PublishEvent.Requested.self, from: Data(first.data.utf8))
        else {
            throw RestoreError(.invalidRequest, "the publish \(prefix) has no request recorded")
        }
        guard let last = events.last(where: { $0.type == PublishEvent.Kind.stopped.rawValue }),
            let stopped = try? decoder.decode(PublishEvent.Stopped.self, from: Data(last.data.utf8))
        else {
            throw RestoreError(
                .invalidRequest, "the publish \(prefix) is still being served: stop it first ('tidemark publish stop \(prefix)')")
        }
        guard let folder = stopped.overlayKept else {
            throw RestoreError(
                .invalidRequest, "the publish \(prefix) kept no overlay (it was read-only, or its overlay was discarded at its stop)")
        }
        return (requested.vmId, requested.restorePointId, folder)
    }
}
