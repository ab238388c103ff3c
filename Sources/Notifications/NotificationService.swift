import EventStore
import Foundation
import JobManager
import Logging
import Postgres
import ServiceLifecycle

/// Tells the channels about finished sessions, in `tidemark server`: follows the log's
/// `SessionFinished` events, and for each session a channel wants appends `NotificationsDue`
/// as a new stream (so of several servers exactly one delivers), then delivers to each channel
/// with retries and backoff, every attempt an event. It takes up what a stopped server left:
/// on start, sessions that finished in the last day before it started and have no
/// notification stream; on start and every minute after, streams with a channel lacking a
/// final outcome whose last event is older than `idleBeforeResume` (longer than any attempt
/// and backoff take, so a delivery under way elsewhere is not doubled). Every
/// `summaryInterval` it also sends the daily summaries due (`sendSummaries`).
public struct NotificationService: Service {
    let store: EventStore
    let secrets: SecretsLocation?
    let logger: Logger
    /// Waits before the 2nd, 3rd and 4th attempts.
    let backoff: [Duration]
    /// How often due daily summaries are looked for.
    let summaryInterval: Duration

    public init(
        store: EventStore, secrets: SecretsLocation?, logger: Logger, backoff: [Duration] = [.seconds(1), .seconds(4), .seconds(15)],
        summaryInterval: Duration = .seconds(60)
    ) {
        self.store = store
        self.secrets = secrets
        self.logger = logger
        self.backoff = backoff
        self.summaryInterval = summaryInterval
    }

    /// A delivery stream idle this long has no server working on it.
    static let idleBeforeResume: TimeInterval = 120

    public func run() async throws {
        let head = try await store.headPosition()
        await withDiscardingTaskGroup { group in
            group.addTask { await resumeLeftWork(finishedBy: head) }
            group.addTask {
                try? await cancelWhenGracefulShutdown {
                    while !Task.isCancelled {
                        try await Task.sleep(for: .seconds(60))
                        await resumeLeftWork(finishedBy: nil)
                    }
                }
            }
            group.addTask {
                try? await cancelWhenGracefulShutdown {
                    while !Task.isCancelled {
                        do {
                            let channels = try await NotificationChannels(events: store).load().map(\.channel)
                            await sendSummaries(channels: channels)
                        } catch {
                            logger.warning("could not read the notification channels", metadata: ["error": "\(error)"])
                        }
                        try await Task.sleep(for: summaryInterval)
                    }
                }
            }
            do {
                for try await event in store.subscribe(after: head, category: "session").cancelOnGracefulShutdown()
                where event.type == "SessionFinished" {
                    guard let session = event.stream.split(separator: "-", maxSplits: 1).last.map(String.init) else { continue }
                    group.addTask { await notify(session: session, resuming: false) }
                }
            } catch {
                logger.warning("notifications stopped following the log", metadata: ["error": "\(error)"])
            }
        }
    }

    /// `finishedBy`: also sessions finished up to that position with no notification stream
    /// (at start: those the live feed will not bring).
    func resumeLeftWork(finishedBy head: Int64?) async {
        do {
            // Read once for the whole pass. Without a channel no finished session wants
            // anything: only deliveries already due are looked at (to record a removed
            // channel's failure), not every session of the last day.
            let channels = try await NotificationChannels(events: store).load().map(\.channel)
            let left = try await store.pool.query(
                """
                SELECT substr(f.stream_id, 9) FROM tidemark.events f
                 WHERE $1::bigint IS NOT NULL AND f.position <= $1
                   AND f.category = 'session' AND f.event_type = 'SessionFinished' AND f.recorded_at > now() - interval '1 day'
                   AND NOT EXISTS (SELECT 1 FROM tidemark.events n WHERE n.stream_id = 'notification-' || substr(f.stream_id, 9))
                UNION
                SELECT substr(d.stream_id, 14) FROM tidemark.events d
                 WHERE d.category = 'notification' AND d.event_type = 'NotificationsDue' AND d.recorded_at > now() - interval '1 day'
                   AND d.stream_id NOT LIKE 'notification-summary-%'
                   AND (SELECT max(l.recorded_at) FROM tidemark.events l WHERE l.stream_id = d.stream_id) < now() - interval '\(Int(Self.idleBeforeResume)) seconds'
                """, [channels.isEmpty ? nil : head])
            for row in 0..<left.rowCount {
                await notify(session: try left.decode(row, 0, as: String.self), resuming: true, channels: channels)
            }
        } catch {
            logger.warning("could not look for notifications left undelivered", metadata: ["error": "\(error)"])
        }
    }

    /// What a channel is told about a session.
    struct Report: Sendable {
        let session: String
        let job: String
        let result: String
        /// `SessionFinished`'s data, as JSON text.
        let finishedJSON: String
        let finishedAt: String

        var finished: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(finishedJSON.utf8))) as? [String: Any] ?? [:]
        }
    }

    func report(session: String) async throws -> Report? {
        let result = try await store.pool.query(
            """
            SELECT s.data ->> 'job_name', f.data ->> 'result', f.data::text, to_char(f.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
              FROM tidemark.events s JOIN tidemark.events f ON f.stream_id = s.stream_id AND f.event_type = 'SessionFinished'
             WHERE s.stream_id = $1 AND s.stream_version = 1
            """, ["session-\(session)"])
        guard result.rowCount == 1 else { return nil }
        return Report(
            session: session, job: try result.decodeIfPresent(0, 0, as: String.self) ?? "?", result: try result.decode(0, 1),
            finishedJSON: try result.decode(0, 2), finishedAt: try result.decode(0, 3))
    }

    /// `channels`: read by the caller for many sessions at once; read here when nil.
    func notify(session: String, resuming: Bool, channels known: [NotificationChannel]? = nil) async {
        do {
            guard let report = try await report(session: session) else { return }
            let stream = try StreamName(NotificationEvent.deliveryStream(session: session))
            var (due, attempts, version) = try await progress(stream)
            let channels: [NotificationChannel]
            if let known { channels = known } else { channels = try await NotificationChannels(events: store).load().map(\.channel) }
            if due == nil {
                let wanted = channels.filter { $0.wants(job: report.job, result: report.result) }
                guard !wanted.isEmpty else { return }
                let event = NotificationEvent.Due(
                    sessionID: session, jobName: report.job, result: report.result,
                    channels: wanted.map { .init(id: $0.id, name: $0.name) })
                do {
                    try await store.append(
                        to: stream, expectedVersion: .noStream,
                        events: [
                            try NewEvent(type: "NotificationsDue", jsonData: try NotificationEvent.json(event), metadata: metadata(session))
                        ])
                } catch let error as EventStoreError where error.code == .wrongExpectedVersion {
                    return  // another server took it
                }
                (due, attempts, version) = (event, [:], 1)
            } else if !resuming {
                return
            }
            for target in due?.channels ?? [] {
                let state = attempts[target.id] ?? (count: 0, final: false)
                guard !state.final else { continue }
                guard let channel = channels.first(where: { $0.id == target.id }) else {
                    version = try await record(
                        stream, version: version, session: session, "NotificationFailed",
                        NotificationEvent.Failed(
                            channelID: target.id, channel: target.name, attempt: state.count + 1, error: "the channel was removed",
                            willRetry: false))
                    continue
                }
                version = try await deliver(
                    NotificationText.message(report), to: channel, stream: stream, version: version, after: state.count)
            }
        } catch let error as EventStoreError where error.code == .wrongExpectedVersion {
            logger.info("another server is delivering these notifications", metadata: ["session": "\(session)"])
        } catch {
            logger.warning("could not deliver notifications", metadata: ["session": "\(session)", "error": "\(error)"])
        }
    }

    /// What a channel is sent: a mail's subject and text, or a webhook's JSON body. `id`
    /// names the delivery (the mail's Message-ID, the webhook's `X-Tidemark-Delivery`, with
    /// the channel's id) and correlates its events.
    struct Message: Sendable {
        let id: String
        let subject: String
        let text: String
        let json: [UInt8]
    }

    /// Tries until delivered or out of attempts; each attempt is an event. Returns the stream's version.
    func deliver(
        _ message: Message, to channel: NotificationChannel, stream: StreamName, version start: Int64, after done: Int
    ) async throws -> Int64 {
        var version = start
        let attempts = backoff.count + 1
        for attempt in (done + 1)...max(done + 1, attempts) {
            if attempt > 1 { try await Task.sleep(for: backoff[min(attempt - 2, backoff.count - 1)]) }
            let outcome = await send(message, to: channel)
            switch outcome {
            case .success(let detail):
                return try await record(
                    stream, version: version, session: message.id, "NotificationSent",
                    NotificationEvent.Sent(channelID: channel.id, channel: channel.name, attempt: attempt, detail: detail))
            case .failure(let error):
                let again = attempt < attempts
                version = try await record(
                    stream, version: version, session: message.id, "NotificationFailed",
                    NotificationEvent.Failed(
                        channelID: channel.id, channel: channel.name, attempt: attempt, error: error.message, willRetry: again))
                logger.warning(
                    "notification not delivered",
                    metadata: ["channel": "\(channel.name)", "attempt": "\(attempt)", "error": "\(error.message)"])
                if !again { return version }
            }
        }
        return version
    }

    func send(_ message: Message, to channel: NotificationChannel) async -> Result<String, NotificationError> {
        do {
            if let email = channel.email {
                let password = try email.password.map {
                    try $0.resolve(for: "notification channel '\(channel.name)'", secrets: secrets).secret
                }
                return await Mailer.send(
                    email, password: password, subject: message.subject, text: message.text, messageID: "\(message.id).\(channel.id)")
            }
            if let webhook = channel.webhook {
                let secret = try webhook.secret.resolve(for: "notification channel '\(channel.name)'", secrets: secrets).secret
                return await WebhookSender.send(webhook, secret: secret, body: message.json, delivery: "\(message.id).\(channel.id)")
            }
            return .failure(NotificationError(.invalid, "the channel has neither an e-mail nor a webhook"))
        } catch let error as JobManagerError {
            return .failure(NotificationError(.deliveryFailed, error.message))
        } catch {
            return .failure(NotificationError(.deliveryFailed, "\(error)"))
        }
    }

    /// Where a stream stands: the due event, per channel the attempts made and whether one was
    /// final, and the version.
    func progress(_ stream: StreamName) async throws -> (NotificationEvent.Due?, [String: (count: Int, final: Bool)], Int64) {
        let events = try await store.readStream(stream)
        var due: NotificationEvent.Due?
        var attempts: [String: (count: Int, final: Bool)] = [:]
        let decoder = NotificationEvent.decoder
        for event in events {
            let data = Data(event.data.utf8)
            switch event.type {
            case "NotificationsDue": due = try? decoder.decode(NotificationEvent.Due.self, from: data)
            case "NotificationSent":
                if let sent = try? decoder.decode(NotificationEvent.Sent.self, from: data) {
                    attempts[sent.channelID] = (sent.attempt, true)
                }
            case "NotificationFailed":
                if let failed = try? decoder.decode(NotificationEvent.Failed.self, from: data) {
                    attempts[failed.channelID] = (failed.attempt, !failed.willRetry)
                }
            default: break
            }
        }
        return (due, attempts, Int64(events.count))
    }

    func record<Payload: Encodable>(
        _ stream: StreamName, version: Int64, session: String, _ type: String, _ payload: Payload
    ) async throws -> Int64 {
        try await store.append(
            to: stream, expectedVersion: .exact(version),
            events: [try NewEvent(type: type, jsonData: try NotificationEvent.json(payload), metadata: metadata(session))])
        return version + 1
    }

    func metadata(_ session: String) -> EventMetadata {
        EventMetadata(correlationID: UUID(uuidString: session), actor: "notifications", host: ProcessInfo.processInfo.hostName)
    }
}
