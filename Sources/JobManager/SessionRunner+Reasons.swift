import Catalog
import Foundation
import WorkflowEvents

/// Why a session, or one of its VMs, did not simply succeed — said wherever a result is shown
/// (the report, `session show`, `reporting.sessions.reason`), from the recorded facts only, so
/// a resumed session says the same as an uninterrupted one.
extension SessionRunner {
    /// The reason a session that selected no VM fails: which selectors matched nothing, or
    /// that the exclusions left nothing of what they matched.
    func nothingSelectedReason() async -> String {
        let unmatched = await recorder.state.unmatchedSelectors
        let selectors = job.objects.map(\.description)
        if selectors.isEmpty { return "the job selects no objects: add one with 'tidemark job update \(job.name) --object vm:NAME'" }
        if Set(unmatched) == Set(selectors) {
            return "no VM matches \(selectors.joined(separator: ", ")): see 'tidemark server inventory' for the names"
        }
        let exclusions = job.exclusions.map(\.description).joined(separator: ", ")
        return "every VM that \(selectors.filter { !unmatched.contains($0) }.joined(separator: ", ")) selects is excluded (\(exclusions))"
    }

    /// Why one VM failed, or what its warning is; nil when it simply succeeded.
    static func reason(
        of vm: SessionEvent.EnumeratedVM, result: SessionEvent.Outcome, in state: SessionState, job: JobDefinition
    ) -> String? {
        let tasks = vm.diskKeys.map { key in (key, state.tasks["\(vm.id)/\(key)"]) }
        let failures = tasks.compactMap { key, record -> String? in
            guard let record, record.failures > 0 else { return nil }
            return "disk-\(key): \(shortened(record.failureMessage ?? "failed"))"
        }
        switch result {
        case .failed:
            if !failures.isEmpty { return failures.joined(separator: "; ") }
            let undone = tasks.filter { $0.1?.result != .success }.count
            return undone > 0 ? "\(undone) of \(tasks.count) disks not backed up" : "no restore point was recorded"
        case .warning:
            var notes: [String] = []
            let snapshot = state.snapshots[vm.id]?.created
            if job.applicationAware != .off, snapshot?.quiesced == false {
                notes.append("crash-consistent: the guest could not be quiesced")
            }
            if !failures.isEmpty { notes.append("succeeded after a retry (\(failures.joined(separator: "; ")))") }
            for (key, record) in tasks { if let warning = record?.transfer?.warning { notes.append("disk-\(key): \(shortened(warning))") } }
            return notes.isEmpty ? nil : notes.joined(separator: "; ")
        case .stopped:
            return state.restorePoints[vm.id] == nil ? "stopped before its restore point was made" : nil
        default:
            return nil
        }
    }

    /// The session's reason from its VMs: the failed ones first, then the warnings, then the
    /// selectors that matched nothing. At most a few VMs are named; the report has the rest.
    static func sessionReason(machines: [SessionReport.Machine], unmatched: [String]) -> String? {
        func listed(_ machines: [SessionReport.Machine]) -> String {
            let shown = machines.prefix(3).map { "\($0.name) (\($0.reason ?? $0.result.rawValue))" }
            return shown.joined(separator: "; ") + (machines.count > 3 ? "; and \(machines.count - 3) more" : "")
        }
        var parts: [String] = []
        let failed = machines.filter { $0.result == .failed }
        if !failed.isEmpty { parts.append("\(failed.count) of \(machines.count) VMs failed: \(listed(failed))") }
        let warned = machines.filter { $0.result == .warning }
        if !warned.isEmpty { parts.append("\(warned.count) of \(machines.count) VMs with warnings: \(listed(warned))") }
        for selector in unmatched { parts.append("\(selector) matches no VM") }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }

    /// The error as it may leave the session: one whose text carries the infrastructure's
    /// secret (a fault echoing the password) becomes an `interrupted` error without it.
    func withoutSecrets(_ error: any Error) -> any Error {
        guard secrets.reveals("\(error)") else { return error }
        return JobManagerError(.interrupted, secrets.scrub("\(error)"))
    }

    /// One line of a long message (a vCenter fault can run to pages).
    static func shortened(_ message: String, limit: Int = 300) -> String {
        let line = message.split(whereSeparator: \.isNewline).joined(separator: " ")
        return line.count > limit ? String(line.prefix(limit)) + "…" : line
    }
}
