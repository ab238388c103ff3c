import Foundation

/// What a restore operator may restore and publish, when the grant limits it (Veeam's
/// "restore operator" scoped to some VMs): VMs named here, or VMs backed up by the jobs named
/// here. A user without a scope restores any VM. Jobs are kept by id, so renaming a job keeps
/// the grant; the name beside it is what the log reads as.
public struct RestoreScope: Codable, Sendable, Equatable {
    public struct Job: Codable, Sendable, Equatable {
        public var id: String
        public var name: String

        public init(id: String, name: String) {
            self.id = id
            self.name = name
        }
    }

    /// VM names, compared without case (vCenter's names for the VMs as backed up).
    public var vms: [String]
    public var jobs: [Job]

    public init(vms: [String], jobs: [Job]) {
        self.vms = vms
        self.jobs = jobs
    }

    /// Whether a VM, backed up by `jobID` (nil when the point's job is not known), is within.
    public func permits(vmName: String, jobID: String?) -> Bool {
        if vms.contains(where: { $0.lowercased() == vmName.lowercased() }) { return true }
        guard let jobID else { return false }
        return jobs.contains { $0.id == jobID }
    }

    /// "VMs web-01, db-01; jobs nightly": what a refusal names.
    public var description: String {
        var parts: [String] = []
        if !vms.isEmpty { parts.append("VMs \(vms.joined(separator: ", "))") }
        if !jobs.isEmpty { parts.append("jobs \(jobs.map(\.name).joined(separator: ", "))") }
        return parts.joined(separator: "; ")
    }

    /// A scope is checked like a name: at most 100 entries, each a non-empty line.
    static func validate(_ scope: RestoreScope?, role: Role) throws(IdentityError) {
        guard let scope else { return }
        guard role == .restoreOperator else {
            throw IdentityError(
                .invalid, "--vm and --job limit a restore-operator; '\(role.rawValue)' is not limited that way (leave them out)")
        }
        guard !scope.vms.isEmpty || !scope.jobs.isEmpty else {
            throw IdentityError(.invalid, "a limit names at least one VM (--vm) or job (--job)")
        }
        guard scope.vms.count + scope.jobs.count <= 100 else {
            throw IdentityError(.invalid, "a limit names at most 100 VMs and jobs together: use jobs to cover many VMs")
        }
        for vm in scope.vms where vm.isEmpty || vm.count > 200 || vm.unicodeScalars.contains(where: { $0.value < 0x20 }) {
            throw IdentityError(.invalid, "'\(vm.prefix(40))' is not a VM name: 1 to 200 characters without control characters")
        }
    }
}
