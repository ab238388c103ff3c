import Foundation

/// Requests to a running session from outside it, on the stream `control-<session uuid>`
/// (the session's own stream has one writer, its Job Manager).
public enum ControlEvent {
    public static let category = "control"

    /// The control stream of a session: `control-<session uuid>`.
    public static func stream(of session: String) -> String { "\(category)-\(session)" }

    /// The session a control stream belongs to, or nil for another stream.
    public static func session(inStream stream: String) -> String? {
        stream.hasPrefix(category + "-") ? String(stream.dropFirst(category.count + 1)) : nil
    }

    /// `StopRequested`: `graceful` lets VMs in progress finish and starts no other;
    /// `immediate` stops transfers now, removes their snapshots and creates no restore point
    /// for them. Either way nothing is retried.
    public struct StopRequested: Codable, Sendable {
        public enum Mode: String, Codable, Sendable, CaseIterable {
            case graceful, immediate
        }

        public var mode: Mode
        public init(mode: Mode) { self.mode = mode }
    }
}
