import ArgumentParser
import Catalog
import CatalogStore
import Identity

/// `--vm` and `--job` of `user add` and `user grant`: a restore operator limited to some VMs,
/// or to the VMs some jobs back up. Job names are looked up once, here, and kept by id. A
/// grant states the whole role: without them, the user is no longer limited.
struct RestoreScopeOptions: ParsableArguments {
    @Option(
        name: .customLong("vm"),
        help: ArgumentHelp(
            "A restore-operator: limit to this VM (repeatable; a grant without --vm or --job lifts the limit).", valueName: "name"))
    var vms: [String] = []
    @Option(
        name: .customLong("job"),
        help: ArgumentHelp("A restore-operator: limit to the VMs this job backs up (repeatable).", valueName: "name"))
    var jobs: [String] = []

    /// nil when neither is given (no limit); the decider checks that the role takes one.
    func scope(_ catalog: CatalogStore) async throws -> RestoreScope? {
        guard !vms.isEmpty || !jobs.isEmpty else { return nil }
        let state = try await catalog.load()
        var resolved: [RestoreScope.Job] = []
        for name in jobs {
            guard let id = state.id(of: JobDefinition.self, named: name), let job = state.jobs[id] else {
                throw CatalogError.unknown(.job, named: name, known: state.jobs.values.map(\.definition.name))
            }
            if !resolved.contains(where: { $0.id == id }) { resolved.append(RestoreScope.Job(id: id, name: job.definition.name)) }
        }
        return RestoreScope(vms: vms, jobs: resolved)
    }
}
