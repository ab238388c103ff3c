/// A virtualization manager as the Job Manager uses it, shaped for vSphere: the inventory,
/// snapshots by name, one disk of one snapshot for random reads, and changed areas since
/// an earlier snapshot where the manager tracks them.
///
/// The lab (`LabAdapter`) is the embedded default; a vSphere adapter talks to vCenter.
public protocol InfrastructureAdapter: Sendable {
    func inventory() async throws -> Inventory

    /// Creates a snapshot (memory is never included). With `quiesce`, the guest's
    /// applications are asked to flush first, and a failure to do so is `quiesceFailed`.
    func createSnapshot(vm: String, name: String, description: String, quiesce: Bool) async throws -> SnapshotInfo

    func removeSnapshot(vm: String, snapshot: String) async throws

    /// The VM's snapshots, oldest first; Tidemark finds its own by their deterministic names.
    func snapshots(of vm: String) async throws -> [SnapshotInfo]

    /// One disk as the snapshot froze it: later writes to the VM do not change what it reads.
    func openDisk(vm: String, snapshot: String, diskKey: Int) async throws -> any BlockSource

    /// The areas of a disk written between the snapshot whose change id is given and
    /// `snapshot`; nil when the manager cannot tell (read everything then).
    func changedAreas(vm: String, snapshot: String, diskKey: Int, since changeID: String) async throws -> [DiskArea]?

    /// Ends the session with the manager (a vCenter login), once the work is done: a server
    /// running many sessions must not leave a login open per session.
    func disconnect() async

    /// What the manager says it is and the certificate it showed (a server's "check"); nil
    /// for a manager with neither, as the lab.
    func identity() async throws -> ManagerIdentity?
}

extension InfrastructureAdapter {
    /// Nothing to end (the lab keeps no session).
    public func disconnect() async {}

    /// No product or certificate to show (the lab).
    public func identity() async throws -> ManagerIdentity? { nil }
}
