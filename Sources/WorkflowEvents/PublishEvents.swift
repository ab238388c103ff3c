import EventStore
import Foundation

/// The events of a publish (instant access), on the stream `publish-<uuid>`: a restore point's
/// disks served over NBD for as long as someone needs them. The intent (`PublishRequested`: who,
/// why, which point, where), the serving (`PublishStarted` with the address bound, each client
/// as it connects), the end (`PublishStopped` with what was served) — and a stop asked for from
/// anywhere (`PublishStopRequested`), which the serving process reads. All schema version 1.
public enum PublishEvent {
    public static let category = "publish"

    public static func stream(of publish: String) -> String { "\(category)-\(publish)" }

    public static func publish(inStream stream: String) -> String? {
        stream.hasPrefix(category + "-") ? String(stream.dropFirst(category.count + 1)) : nil
    }

    public enum Kind: String, Sendable, CaseIterable {
        case requested = "PublishRequested"
        case started = "PublishStarted"
        case clientConnected = "PublishClientConnected"
        case stopRequested = "PublishStopRequested"
        case stopped = "PublishStopped"
    }

    public struct Disk: Codable, Sendable, Equatable {
        enum CodingKeys: String, CodingKey {
            case disk, key, sizeBytes = "size_bytes"
        }

        /// The manifest's name, which is also the export's name (`disk-2000`).
        public var disk: String
        public var key: Int
        public var sizeBytes: Int64

        public init(disk: String, key: Int, sizeBytes: Int64) {
            self.disk = disk
            self.key = key
            self.sizeBytes = sizeBytes
        }
    }

    /// `PublishRequested`: the intent, recorded once every input was checked.
    public struct Requested: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case publishId = "publish_id", vmId = "vm_id", vmName = "vm_name", restorePointId = "restore_point_id"
            case pointCreatedAt = "point_created_at", repositoryId = "repository_id", repositoryName = "repository_name", disks
            case listen, writable, reason, overlayFolder = "overlay_folder", keepOverlay = "keep_overlay"
        }

        public var publishId: String
        public var vmId: String
        public var vmName: String
        public var restorePointId: String
        public var pointCreatedAt: Date?
        public var repositoryId: String
        public var repositoryName: String
        public var disks: [Disk]
        /// The address asked for (`127.0.0.1:10809`, or a socket's path).
        public var listen: String
        public var writable: Bool
        public var reason: String?
        /// Writable: the folder of this publish's copy-on-write overlays (never the repository).
        public var overlayFolder: String?
        /// Writable: the overlays are kept at the stop (for a later migrate), not discarded.
        public var keepOverlay: Bool?

        public init(
            publishId: String, vmId: String, vmName: String, restorePointId: String, pointCreatedAt: Date?, repositoryId: String,
            repositoryName: String, disks: [Disk], listen: String, writable: Bool, reason: String?, overlayFolder: String? = nil,
            keepOverlay: Bool? = nil
        ) {
            self.overlayFolder = overlayFolder
            self.keepOverlay = keepOverlay
            self.publishId = publishId
            self.vmId = vmId
            self.vmName = vmName
            self.restorePointId = restorePointId
            self.pointCreatedAt = pointCreatedAt
            self.repositoryId = repositoryId
            self.repositoryName = repositoryName
            self.disks = disks
            self.listen = listen
            self.writable = writable
            self.reason = reason
        }
    }

    /// `PublishStarted`: listening; the address bound (a port 0 asked for becomes the one chosen).
    public struct Started: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case address, host, processId = "process_id", resumed
        }

        public var address: String
        public var host: String
        public var processId: Int
        /// Served again by `tidemark server` after the process serving it died.
        public var resumed: Bool?

        public init(address: String, host: String, processId: Int, resumed: Bool? = nil) {
            self.address = address
            self.host = host
            self.processId = processId
            self.resumed = resumed
        }
    }

    /// `PublishClientConnected`.
    public struct ClientConnected: Codable, Sendable {
        public var client: String

        public init(client: String) {
            self.client = client
        }
    }

    /// `PublishStopRequested`: who asked is the event's actor.
    public struct StopRequested: Codable, Sendable {
        public var reason: String?

        public init(reason: String?) {
            self.reason = reason
        }
    }

    /// `PublishStopped`: what was served, and why it ended.
    public struct Stopped: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case clients, reads, bytesRead = "bytes_read", writes, bytesWritten = "bytes_written", errors, reason
            case overlayKept = "overlay_kept"
        }

        public var clients: Int
        public var reads: Int
        public var bytesRead: Int64
        public var writes: Int
        public var bytesWritten: Int64
        public var errors: Int
        public var reason: String
        /// The overlay folder left for a later migrate (`--keep-overlay`); nil: none, or discarded.
        public var overlayKept: String?

        public init(
            clients: Int, reads: Int, bytesRead: Int64, writes: Int, bytesWritten: Int64, errors: Int, reason: String,
            overlayKept: String? = nil
        ) {
            self.overlayKept = overlayKept
            self.clients = clients
            self.reads = reads
            self.bytesRead = bytesRead
            self.writes = writes
            self.bytesWritten = bytesWritten
            self.errors = errors
            self.reason = reason
        }
    }

    public enum Field {
        public static let publishId = Requested.CodingKeys.publishId.rawValue
        public static let restorePointId = Requested.CodingKeys.restorePointId.rawValue
    }

    public static func logKind(_ kind: Kind) -> LogQuery.Kind { LogQuery.Kind(category: category, type: kind.rawValue) }

    public static func decoder() -> JSONDecoder { RestoreEvent.decoder() }

    public static func encoder() -> JSONEncoder { RestoreEvent.encoder() }
}
