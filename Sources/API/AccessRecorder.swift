import EventStore
import Foundation
import Logging

/// The sign-in records of one running API server (stream `access-<uuid>`), and the throttle
/// on refused tokens per client address: `refusalsPerMinute` (10 by default) within a minute
/// and the address gets 429 until the minute has passed, with one record saying so instead of
/// one per guess.
actor AccessRecorder {
    let refusalsPerMinute: Int
    let store: EventStore
    let stream: StreamName
    let logger: Logger
    var refusals: [String: [Date]] = [:]

    init(store: EventStore, refusalsPerMinute: Int, logger: Logger) throws {
        self.store = store
        self.refusalsPerMinute = refusalsPerMinute
        self.stream = try StreamName("access-\(UUID().uuidString.lowercased())")
        self.logger = logger
    }

    func isThrottled(address: String, now: Date = Date()) -> Bool {
        let recent = (refusals[address] ?? []).filter { now.timeIntervalSince($0) < 60 }
        refusals[address] = recent.isEmpty ? nil : recent
        return recent.count >= refusalsPerMinute
    }

    /// Counts a refused token and records it (`SignInFailed`) while the address is not
    /// throttled. A request with no token at all is neither: it guesses nothing, and counting
    /// or recording it would let anyone lock an address out or fill the log.
    func refused(reason: String, tokenPrefix: String?, address: String, now: Date = Date()) async {
        refusals[address, default: []].append(now)
        let count = refusals[address]?.count ?? 0
        guard count <= refusalsPerMinute else { return }
        let throttled = count == refusalsPerMinute
        var data: [String: String] = [
            "reason": throttled ? "\(reason); further refusals from this address for a minute are not recorded" : reason,
            "method": "token", "client_address": address,
        ]
        if let tokenPrefix { data["token_prefix"] = tokenPrefix }
        await append("SignInFailed", data, address: address)
    }

    func append(_ type: String, _ data: [String: String], address: String) async {
        do {
            let json = String(decoding: try JSONSerialization.data(withJSONObject: data, options: [.sortedKeys]), as: UTF8.self)
            let metadata = EventMetadata(actor: "api", host: ProcessInfo.processInfo.hostName, clientAddress: address)
            try await store.append(to: stream, events: [try NewEvent(type: type, jsonData: json, metadata: metadata)])
        } catch {
            logger.warning("could not record a sign-in", metadata: ["event": "\(type)", "error": "\(error)"])
        }
    }
}
