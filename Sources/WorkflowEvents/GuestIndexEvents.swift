extension SessionEvent {
    /// `GuestIndexStarted`: the session indexes the guest files of a restore point it made
    /// (the job's `index_guest_files`), after its VMs are processed.
    public struct GuestIndexStarted: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case restorePointId = "restore_point_id", vmId = "vm_id"
        }

        public var restorePointId: String
        public var vmId: String

        public init(restorePointId: String, vmId: String) {
            self.restorePointId = restorePointId
            self.vmId = vmId
        }
    }

    /// `GuestIndexFinished`: what indexing a restore point found, over all its readable file
    /// systems; a `warning` (with the message) when a file system could not be indexed — the
    /// backup itself stands.
    public struct GuestIndexFinished: Codable, Sendable {
        enum CodingKeys: String, CodingKey {
            case restorePointId = "restore_point_id", vmId = "vm_id", result, fileSystems = "file_systems", files, added, changed
            case removed, seconds, message
        }

        public var restorePointId: String
        public var vmId: String
        public var result: Outcome
        public var fileSystems: Int
        public var files: Int64
        public var added: Int64
        public var changed: Int64
        public var removed: Int64
        public var seconds: Double
        public var message: String?

        public init(
            restorePointId: String, vmId: String, result: Outcome, fileSystems: Int, files: Int64, added: Int64, changed: Int64,
            removed: Int64, seconds: Double, message: String?
        ) {
            self.restorePointId = restorePointId
            self.vmId = vmId
            self.result = result
            self.fileSystems = fileSystems
            self.files = files
            self.added = added
            self.changed = changed
            self.removed = removed
            self.seconds = seconds
            self.message = message
        }
    }
}
