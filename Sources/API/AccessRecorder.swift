import EventStore
import Foundation
import Logging

/// The sign-in records of one running API server (stream `access-<uuid>`), and the throttle
/// on refused tokens: `refusalsPerMinute` (10 by default) from one address within a minute and
/// the address gets 429 until the minute has passed. Bounded both ways: at most
/// `recordsPerMinute` records a minute server-wide (a guesser rotating addresses cannot fill the
/// log; one record says when the rest of a minute goes unrecorded), and at most
/// `trackedAddresses` addresses in memory (past that, a new address is throttled until old
/// ones age out).
actor AccessRecorder {
    let refusalsPerMinute: Int
    /// The throttle's window: a minute (tests on a loaded machine lengthen it).
    let window: TimeInterval
    let recordsPerMinute: Int
    let trackedAddresses: Int
    let store: EventStore
    let stream: StreamName
    let logger: Logger
    var refusals: [String: [Date]] = [:]
    var lastSweep = Date()
    var minuteStarted = Date()
    var recordedThisMinute = 0

    init(
        store: EventStore, refusalsPerMinute: Int, window: TimeInterval = 60, recordsPerMinute: Int = 60,
        trackedAddresses: Int = 50_000, logger: Logger
    ) throws {
        self.store = store
        self.refusalsPerMinute = refusalsPerMinute
        self.window = window
        self.recordsPerMinute = recordsPerMinute
        self.trackedAddresses = trackedAddresses
        self.stream = try StreamName("access-\(UUID().uuidString.lowercased())")
        self.logger = logger
    }

    func isThrottled(address: String, now: Date = Date()) -> Bool {
        sweep(now: now)
        let recent = (refusals[address] ?? []).filter { now.timeIntervalSince($0) < window }
        refusals[address] = recent.isEmpty ? nil : recent
        if recent.isEmpty && refusals.count >= trackedAddresses { return true }
        return recent.count >= refusalsPerMinute
    }

    /// Drops every refusal older than a minute, at most once a minute.
    private func sweep(now: Date) {
        guard now.timeIntervalSince(lastSweep) >= window else { return }
        lastSweep = now
        refusals = refusals.compactMapValues { times in
            let recent = times.filter { now.timeIntervalSince($0) < window }
            return recent.isEmpty ? nil : recent
        }
    }

    /// Counts a refused token and records it (`SignInFailed`) while neither the address nor
    /// the server's minute is over its limit. A request with no token at all is neither: it
    /// guesses nothing, and counting or recording it would let anyone lock an address out or
    /// fill the log.
    /// Counts a sign-in attempt against the address before it is checked (a password's check
    /// is slow: counted after it, concurrent attempts would all pass); false when throttled.
    func admit(address: String, now: Date = Date()) -> Bool {
        guard !isThrottled(address: address, now: now) else { return false }
        refusals[address, default: []].append(now)
        return true
    }

    /// `counted`: the attempt was counted already by ``admit(address:now:)``.
    func refused(
        reason: String, tokenPrefix: String?, address: String, method: String = "token", user: String? = nil, counted: Bool = false,
        now: Date = Date()
    ) async {
        if !counted { refusals[address, default: []].append(now) }
        let count = refusals[address]?.count ?? 0
        guard count <= refusalsPerMinute else { return }
        if now.timeIntervalSince(minuteStarted) >= 60 {
            minuteStarted = now
            recordedThisMinute = 0
        }
        guard recordedThisMinute < recordsPerMinute else { return }
        recordedThisMinute += 1
        var notes: [String] = []
        if count == refusalsPerMinute { notes.append("further refusals from this address for a minute are not recorded") }
        if recordedThisMinute == recordsPerMinute { notes.append("further refusals from any address this minute are not recorded") }
        var data: [String: String] = [
            "reason": ([reason] + notes).joined(separator: "; "), "method": method, "client_address": address,
        ]
        if let tokenPrefix { data["token_prefix"] = tokenPrefix }
        if let user { data["user_name"] = user }
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
