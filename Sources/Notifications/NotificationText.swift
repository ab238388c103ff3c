import Foundation

/// What a notification says: a mail's subject and text, a webhook's JSON.
enum NotificationText {
    static func message(_ report: NotificationService.Report) -> NotificationService.Message {
        NotificationService.Message(id: report.session, subject: subject(report), text: body(report), json: json(report))
    }

    static func subject(_ report: NotificationService.Report) -> String {
        "[Tidemark] \(report.result): job \(report.job)"
    }

    static func body(_ report: NotificationService.Report) -> String {
        var lines = [
            "Job \(report.job): the session \(report.session) ended \(report.result) at \(report.finishedAt).", "",
        ]
        if let reason = report.finished["reason"] as? String, !reason.isEmpty { lines += ["Why: \(reason)", ""] }
        let bytes = ByteCountFormatter()
        bytes.countStyle = .binary
        if let processed = report.finished["processed_bytes"] as? Int64 ?? (report.finished["processed_bytes"] as? NSNumber)?.int64Value {
            lines.append("Processed: \(bytes.string(fromByteCount: processed))")
        }
        if let transferred = (report.finished["transferred_bytes"] as? NSNumber)?.int64Value {
            lines.append("Written to the repository: \(bytes.string(fromByteCount: transferred))")
        }
        if let seconds = (report.finished["duration_seconds"] as? NSNumber)?.doubleValue {
            lines.append("Duration: \(String(format: "%.1f", seconds)) s")
        }
        lines += ["", "Details: tidemark session show \(report.session)", "Timeline: tidemark session replay \(report.session)"]
        return lines.joined(separator: "\n")
    }

    /// `{"event": "session.finished", "session_id", "job_name", "result", "finished_at", "session": {SessionFinished's data}}`.
    static func json(_ report: NotificationService.Report) -> [UInt8] {
        let object: [String: Any] = [
            "event": "session.finished", "session_id": report.session, "job_name": report.job, "result": report.result,
            "finished_at": report.finishedAt, "session": report.finished,
        ]
        return Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8))
    }
}
