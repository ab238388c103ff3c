import EventStore
import Foundation
import WorkflowEvents

/// A restore point as the log records it: what the backup wrote, in which session, when.
public struct RestorePointRecord: Sendable {
    public let point: SessionEvent.RestorePointCreated
    public let session: String
    public let createdAt: Date

    /// The disks with their keys and sizes: from the recorded configuration, or, for points
    /// recorded before it existed, the names alone (the size is then the manifest's).
    public var disks: [(name: String, key: Int, sizeBytes: Int64?)] {
        point.disks.map { name in
            let key = Int(name.dropFirst("disk-".count)) ?? -1
            return (name, key, point.configuration?.disks.first { $0.key == key }?.sizeBytes)
        }
    }

    /// Every disk the VM had at backup time is in the point (none was excluded).
    public var isComplete: Bool {
        guard let configured = point.configuration?.disks else { return true }
        return Set(configured.map { "disk-\($0.key)" }).isSubset(of: Set(point.disks))
    }
}

/// Which restore point of a VM: the newest, one by id, or the newest at or before a time.
public enum RestorePointChoice: Sendable, Equatable {
    case latest
    case id(String)
    case at(Date)
}

/// The live restore points (recorded and not removed by retention), read from the log itself
/// so that a point removed a moment ago is never offered: the list a restore chooses from.
public struct RestorePointCatalog: Sendable {
    let store: EventStore

    public init(store: EventStore) {
        self.store = store
    }

    /// Every live restore point, oldest first.
    public func all() async throws -> [RestorePointRecord] {
        try await store.live(
            SessionEvent.logKind(.restorePointCreated), cancelledBy: SessionEvent.Kind.restorePointRemoved.rawValue,
            key: SessionEvent.Field.restorePointId
        ).compactMap(Self.record)
    }

    /// The live points of the VM named `vm` (or whose id is `vm`), oldest first.
    public func points(ofVM vm: String) async throws -> [RestorePointRecord] {
        var found: [String: RestorePointRecord] = [:]
        for field in [SessionEvent.Field.vmName, SessionEvent.Field.vmId] {
            for row in try await store.live(
                SessionEvent.logKind(.restorePointCreated), field: field, equals: vm,
                cancelledBy: SessionEvent.Kind.restorePointRemoved.rawValue, key: SessionEvent.Field.restorePointId)
            {
                if let record = Self.record(row) { found[record.point.restorePointId] = record }
            }
        }
        return found.values.sorted { ($0.createdAt, $0.point.restorePointId) < ($1.createdAt, $1.point.restorePointId) }
    }

    /// The point chosen, or an error that lists the real choices.
    public func choose(vm: String, _ choice: RestorePointChoice) async throws -> RestorePointRecord {
        var points = try await points(ofVM: vm)
        // A name several VMs had (one deleted, another made with its name) is ambiguous: by id then.
        let ids = Set(points.map(\.point.vmId))
        if ids.count > 1 {
            if ids.contains(vm) {
                points = points.filter { $0.point.vmId == vm }
            } else {
                throw RestoreError(
                    .invalidRequest,
                    "several VMs were named \(vm) (\(ids.sorted().joined(separator: ", "))): name the one to restore by its id")
            }
        }
        guard let newest = points.last else {
            let names = Set(try await all().compactMap { $0.point.vmName }).sorted()
            throw RestoreError(
                .noSuchRestorePoint,
                names.isEmpty
                    ? "no VM has a restore point yet: back one up first ('tidemark job start NAME')"
                    : "no restore point of a VM named \(vm): VMs with restore points are \(Self.listed(names)) (see 'tidemark restore-point list')"
            )
        }
        switch choice {
        case .latest:
            return newest
        case .id(let id):
            if let point = points.first(where: { $0.point.restorePointId == id }) { return point }
            throw RestoreError(.noSuchRestorePoint, "\(vm) has no restore point \(id): \(Self.describe(vm, points))")
        case .at(let time):
            if let point = points.last(where: { $0.createdAt <= time }) { return point }
            throw RestoreError(
                .noSuchRestorePoint,
                "\(vm) has no restore point at or before \(Self.time(time)): \(Self.describe(vm, points))")
        }
    }

    /// "vm-1 has restore points at …; disks disk-2000, disk-2001".
    static func describe(_ vm: String, _ points: [RestorePointRecord]) -> String {
        let shown = points.suffix(10).map { "\(Self.time($0.createdAt)) (\($0.point.restorePointId))" }
        let more = points.count > 10 ? " and \(points.count - 10) older" : ""
        let disks = points.last.map { $0.point.disks.joined(separator: ", ") } ?? ""
        return "\(vm) has restore points at \(shown.joined(separator: ", "))\(more); disks \(disks)"
    }

    static func time(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    static func listed(_ names: [String]) -> String {
        names.count > 20 ? names.prefix(20).joined(separator: ", ") + " and \(names.count - 20) more" : names.joined(separator: ", ")
    }

    private static func record(_ row: LogQuery.Row) -> RestorePointRecord? {
        guard let point = try? SessionEvent.decoder().decode(SessionEvent.RestorePointCreated.self, from: Data(row.data.utf8)),
            let session = SessionEvent.session(inStream: row.stream)
        else { return nil }
        return RestorePointRecord(point: point, session: session, createdAt: row.recordedAt)
    }
}
