import EventStore
import Foundation

extension NotificationService {
    /// Sends each channel's newest daily summary that is due and not sent: its stream is
    /// appended as new (`NotificationsDue`), so of several servers exactly one sends it, and a
    /// server that stopped halfway takes it up again once the stream has been idle. Only the
    /// newest summary of the last day is sent: a server down for a week does not send seven.
    func sendSummaries(now: Date = Date(), channels: [NotificationChannel]) async {
        for channel in channels {
            guard let due = channel.summaryDue(atOrBefore: now), now.timeIntervalSince(due) < 86_400 else { continue }
            do {
                try await summarize(channel, due: due, now: now)
            } catch let error as EventStoreError where error.code == .wrongExpectedVersion {
                logger.info("another server is sending this summary", metadata: ["channel": "\(channel.name)"])
            } catch {
                logger.warning("could not send a daily summary", metadata: ["channel": "\(channel.name)", "error": "\(error)"])
            }
        }
    }

    func summarize(_ channel: NotificationChannel, due: Date, now: Date) async throws {
        // The stream's name must be the same on every server, whatever its locale and calendar.
        let stamp = DateFormatter()
        stamp.locale = Locale(identifier: "en_US_POSIX")
        stamp.calendar = Calendar(identifier: .gregorian)
        stamp.timeZone = TimeZone(identifier: "UTC")
        stamp.dateFormat = "yyyyMMddHHmm"
        let stream = try StreamName(NotificationEvent.summaryStream(channel: channel.id, due: stamp.string(from: due)))
        var (recorded, attempts, version) = try await progress(stream)
        // Since the previous due time: 23 or 25 hours on the days clocks change. Taken up again,
        // the window recorded at the start (the channel's time may have changed since).
        let previous = channel.summaryDue(atOrBefore: due.addingTimeInterval(-1)) ?? due.addingTimeInterval(-86_400)
        let window = recorded?.summary ?? NotificationEvent.Due.Window(from: previous, to: due)
        let id = "summary-\(channel.id)-\(stamp.string(from: due))"
        if recorded == nil {
            let event = NotificationEvent.Due(
                sessionID: nil, jobName: nil, result: "summary", channels: [.init(id: channel.id, name: channel.name)], summary: window)
            do {
                try await store.append(
                    to: stream, expectedVersion: .noStream,
                    events: [try NewEvent(type: "NotificationsDue", jsonData: try NotificationEvent.json(event), metadata: metadata(id))])
            } catch let error as EventStoreError where error.code == .wrongExpectedVersion {
                return  // another server took it
            }
            (recorded, attempts, version) = (event, [:], 1)
        } else {
            let state = attempts[channel.id] ?? (count: 0, final: false)
            // Delivered or given up; or another server may be at it still.
            guard !state.final, let last = try await store.readStream(stream, direction: .backward, limit: 1).first,
                now.timeIntervalSince(last.recordedAt) > Self.idleBeforeResume
            else { return }
        }
        let summary = try await DailySummary.read(
            from: window.from, to: window.to, jobs: channel.jobs,
            timeZone: TimeZone(identifier: channel.timeZone ?? "UTC") ?? TimeZone(secondsFromGMT: 0)!,
            store: store)
        _ = try await deliver(
            summary.message(id: id), to: channel, stream: stream, version: version, after: attempts[channel.id]?.count ?? 0)
    }

}
