import Identity
import JobManager
import WorkflowEvents

/// A restore operator limited to some VMs or jobs (``RestoreScope``): every VM a restore reads,
/// and any existing VM it writes over, must be within, checked on the planned request (names
/// and jobs resolved from the log) before anything is recorded.
enum ScopeCheck {
    static func admit(_ requested: RestoreEvent.Requested, order: RestoreOrder, scope: RestoreScope?, user: String) throws {
        guard let scope else { return }
        for machine in requested.vms where !scope.permits(vmName: machine.vmName, jobID: machine.jobId) {
            throw refusal(machine.vmName, scope: scope, user: user)
        }
        // Writing over a VM (the original or another) touches that VM too.
        let sources = Set(requested.vms.map { $0.vmName.lowercased() })
        var overwritten: String?
        switch order.destination {
        case .vm(let target) where target.overwrite: overwritten = target.name ?? requested.vms.first?.vmName
        case .diskToVM(_, let target, _): overwritten = target.name
        default: break
        }
        if let overwritten, !sources.contains(overwritten.lowercased()), !scope.permits(vmName: overwritten, jobID: nil) {
            throw refusal(overwritten, scope: scope, user: user)
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
