import Identity
import JobManager
import WorkflowEvents

/// A restore operator limited to some VMs or jobs (``RestoreScope``): every VM a restore reads,
/// and any existing VM it writes over, must be within. Checked twice: on the restore points
/// alone before the planner runs (whose refusals would describe VMs, disks and targets outside
/// the limit), and on the planned request before anything is recorded.
enum ScopeCheck {
    /// Each VM's chosen point (read from the log): its VM name or its job must be within. A VM
    /// without points is told without listing the VMs that have some.
    static func points(
        vms: [String], point: RestorePointChoice, scope: RestoreScope, user: String, catalog: RestorePointCatalog
    ) async throws {
        for vm in vms {
            let record: RestorePointRecord
            do {
                record = try await catalog.choose(vm: vm, point)
            } catch is RestoreError {
                throw APIProblem.notFound("no restore point of '\(vm)' that '\(user)' may restore (\(scope.description))")
            }
            try admit(vmName: record.point.vmName ?? vm, jobID: record.point.jobId, scope: scope, user: user)
        }
    }

    /// The planned request: every VM read, and every VM written over. Writing over the very VM
    /// backed up (the same id on the server its job backs up from) is within when that VM is;
    /// any other VM written over must be named in the limit.
    static func admit(
        _ requested: RestoreEvent.Requested, order: RestoreOrder, scope: RestoreScope?, jobServers: [String: String], user: String
    ) throws {
        guard let scope else { return }
        for machine in requested.vms {
            try admit(vmName: machine.vmName, jobID: machine.jobId, scope: scope, user: user)
            guard let overwritten = machine.overwriteVmId else { continue }
            let jobServer = machine.jobId.flatMap { jobServers[$0] }
            let sameVM = overwritten == machine.vmId && jobServer != nil && jobServer == requested.target?.serverId
            let name = machine.targetName ?? overwrittenName(order) ?? overwritten
            if !sameVM && !scope.permits(vmName: name, jobID: nil) { throw refusal(name, scope: scope, user: user) }
        }
    }

    /// The name the order gives the VM written over.
    static func overwrittenName(_ order: RestoreOrder) -> String? {
        switch order.destination {
        case .vm(let target) where target.overwrite: target.name ?? order.vms.first
        case .diskToVM(_, let target, _): target.name
        default: nil
        }
    }

    static func admit(vmName: String, jobID: String?, scope: RestoreScope?, user: String) throws {
        guard let scope, !scope.permits(vmName: vmName, jobID: jobID) else { return }
        throw refusal(vmName, scope: scope, user: user)
    }

    static func refusal(_ vm: String, scope: RestoreScope, user: String) -> APIProblem {
        APIProblem(.forbidden, "'\(user)' may restore only \(scope.description): VM '\(vm)' is outside that limit")
    }
}
