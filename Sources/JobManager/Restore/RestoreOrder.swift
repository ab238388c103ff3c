import Foundation

/// A restore as someone asks for it, in names (the command line's words): which VMs, which
/// point, where to. `RestorePlanner` checks it against the log, the catalog, the repository
/// and the target, and turns it into the `RestoreRequested` event, or refuses it.
public struct RestoreOrder: Sendable {
    /// A VM restore's target, in the target's names.
    public struct VMTarget: Sendable {
        public var server: String
        /// The new VM's name; only with one VM (several get `<name>-restored`).
        public var name: String?
        public var datacenter: String?
        /// A folder's path (`/Lab/vm/Test`) or its name when that is unique.
        public var folder: String?
        public var host: String?
        public var cluster: String?
        public var datastore: String?
        /// Source network name → target network name.
        public var networkMap: [String: String]
        public var powerOn: Bool
        public var keepMac: Bool
        public var overwrite: Bool
        /// A VM written over may be switched off by the restore.
        public var powerOff: Bool

        public init(
            server: String, name: String? = nil, datacenter: String? = nil, folder: String? = nil, host: String? = nil,
            cluster: String? = nil, datastore: String? = nil, networkMap: [String: String] = [:], powerOn: Bool = false,
            keepMac: Bool = false, overwrite: Bool = false, powerOff: Bool = false
        ) {
            self.powerOff = powerOff
            self.server = server
            self.name = name
            self.datacenter = datacenter
            self.folder = folder
            self.host = host
            self.cluster = cluster
            self.datastore = datastore
            self.networkMap = networkMap
            self.powerOn = powerOn
            self.keepMac = keepMac
            self.overwrite = overwrite
        }
    }

    public enum Destination: Sendable {
        case vm(VMTarget)
        /// One disk (`2000` or `disk-2000`) to a file.
        case diskFile(disk: String, path: String, replace: Bool)
        /// One disk over a disk of an existing VM (`target.name`; `targetDisk`, else the same
        /// key), which must be off or be switched off (`target.powerOff`).
        case diskToVM(disk: String, target: VMTarget, targetDisk: Int?)
        /// Every disk of each VM to `<folder>/<vm name>-disk-<key>.img`.
        case export(folder: String, replace: Bool)
        /// Guest files and folders (absolute guest paths) from one file system of the point
        /// into a folder on this machine, which must be empty or new unless `overwrite`.
        case guestFiles(paths: [String], volume: GuestVolumeChoice, folder: String, overwrite: Bool)
    }

    public var vms: [String]
    public var point: RestorePointChoice
    public var destination: Destination
    public var reason: String?
    /// Files: every byte written, zeros included (a raw image), instead of holes (sparse).
    public var raw: Bool
    /// A disk to a file: the folder of a kept publish overlay whose sectors go over the
    /// restored disk (the writes made while it was published).
    public var overlay: String?

    public init(
        vms: [String], point: RestorePointChoice, destination: Destination, reason: String?, raw: Bool = false, overlay: String? = nil
    ) {
        self.overlay = overlay
        self.vms = vms
        self.point = point
        self.destination = destination
        self.reason = reason
        self.raw = raw
    }
}
