import EventStore
import Foundation

/// How the `events` commands print an event: aligned text for people, one JSON object a line for programs.
enum EventPrinter {
    static func line(_ event: RecordedEvent, json: Bool) -> String {
        json ? jsonLine(event) : textLine(event)
    }

    static func textLine(_ event: RecordedEvent) -> String {
        let position = "#\(event.position)".padding(toLength: 9, withPad: " ", startingAt: 0)
        let stream = "\(event.stream)@\(event.streamVersion)"
        return "\(position) \(event.recordedAt.formatted(.iso8601))  \(stream)  \(event.type)  \(event.data)"
    }

    /// `data` and `metadata` are embedded as the JSON they already are.
    static func jsonLine(_ event: RecordedEvent) -> String {
        "{\"position\":\(event.position),\"stream\":\(JSONString.quoted(event.stream)),\"version\":\(event.streamVersion),"
            + "\"id\":\"\(event.id.uuidString.lowercased())\",\"type\":\(JSONString.quoted(event.type)),"
            + "\"schema_version\":\(event.schemaVersion),\"data\":\(event.data),\"metadata\":\(event.metadataJSON),"
            + "\"recorded_at\":\"\(isoWithFraction(event.recordedAt))\",\"transaction_id\":\(event.transactionID)}"
    }

    static func isoWithFraction(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }
}
