import Foundation

/// One event a command decided to append: to which stream, at which expected version.
public struct CatalogChange: Sendable {
    public let kind: ObjectKind
    public let id: UUIDString
    public let stream: String
    /// The version the stream must be at (0: the stream must not exist).
    public let expectedVersion: Int64
    public let eventType: String
    /// The event's data, a JSON object.
    public let data: String
    /// Top-level fields the change touches (for messages and history).
    public let changedFields: [String]
}

/// The catalog's decisions: checks a command against the folded state and returns the
/// events to append, or throws without side effects.
public enum CatalogDecider {
    /// Adds a new object under `id`.
    public static func add<Definition: CatalogDefinition>(
        _ definition: Definition, id: UUIDString, in state: CatalogState
    )
        throws(CatalogError) -> [CatalogChange]
    {
        let kind = Definition.kind
        try ObjectName.validate(definition.name, kind: kind)
        try checkUnique(definition.name, kind: Definition.self, except: nil, in: state)
        try definition.validate(in: state)
        var next = state
        next.setEntry(
            CatalogEntry(
                id: id, definition: definition, version: 1, createdAt: .distantPast, updatedAt: .distantPast, updatedBy: nil,
                fieldVersions: [:]),
            id: id)
        try checkChains(of: id, in: next)
        let payload = DefinitionPayload(id: id, definition: definition, changed: nil)
        return [
            CatalogChange(
                kind: kind, id: id, stream: kind.stream(of: id), expectedVersion: 0,
                eventType: CatalogEventType.name(kind, .added), data: CatalogCoding.json(payload),
                changedFields: CatalogCoding.fields(definition).keys.sorted())
        ]
    }

    /// Replaces an object's definition. `basedOn` is the version the caller read: if the
    /// object is at any other version the update is refused as stale, naming the fields that
    /// changed since (optimistic concurrency, as HTTP's If-Match: nothing is merged behind
    /// the caller's back).
    public static func update<Definition: CatalogDefinition>(
        id: UUIDString, basedOn: Int64?, in state: CatalogState, change: (inout Definition) throws(CatalogError) -> Void
    ) throws(CatalogError) -> [CatalogChange] {
        let kind = Definition.kind
        guard let entry = state.entry(Definition.self, id: id) else {
            throw CatalogError(.notFound, "the \(kind.displayName) \(state.label(kind, id)) does not exist")
        }
        var definition = entry.definition
        try change(&definition)
        let changed = CatalogCoding.changedFields(from: entry.definition, to: definition)
        guard !changed.isEmpty else {
            throw CatalogError(
                .noChange, "the \(kind.displayName) '\(entry.definition.name)' already has these settings: nothing to change")
        }
        if let basedOn {
            guard basedOn <= entry.version else {
                throw CatalogError(
                    .staleVersion,
                    "the \(kind.displayName) '\(entry.definition.name)' is at version \(entry.version); version \(basedOn) does not exist yet"
                )
            }
            guard basedOn == entry.version else {
                let since = entry.fieldsChanged(since: basedOn)
                let fields = since.isEmpty ? "" : " in \(since.joined(separator: ", "))"
                throw CatalogError(
                    .staleVersion,
                    "the \(kind.displayName) '\(entry.definition.name)' changed since version \(basedOn) (now \(entry.version))\(fields): read it again ('tidemark \(kind.category) show \(entry.definition.name)') and redo the change with --expected-version \(entry.version)"
                )
            }
        }
        if definition.name != entry.definition.name {
            try ObjectName.validate(definition.name, kind: kind)
            try checkUnique(definition.name, kind: Definition.self, except: id, in: state)
        }
        try definition.validate(in: state)
        var next = state
        var updated = entry
        updated.definition = definition
        next.setEntry(updated, id: id)
        try checkChains(of: id, in: next)

        var changes: [CatalogChange] = []
        var version = entry.version
        func emit(_ verb: CatalogEventType.Verb, _ data: String, _ fields: [String]) {
            changes.append(
                CatalogChange(
                    kind: kind, id: id, stream: kind.stream(of: id), expectedVersion: version,
                    eventType: CatalogEventType.name(kind, verb), data: data, changedFields: fields))
            version += 1
        }
        var remaining = changed
        if kind == .job {
            // A job's rename and its switch on or off are events of their own: they are what
            // an auditor looks for first.
            if remaining.contains("name") {
                emit(.renamed, CatalogCoding.json(RenamedPayload(id: id, from: entry.definition.name, to: definition.name)), ["name"])
                remaining.removeAll { $0 == "name" }
            }
            if remaining.contains("enabled"), let job = definition as? JobDefinition {
                emit(job.enabled ? .enabled : .disabled, CatalogCoding.json(JobIDPayload(id: id)), ["enabled"])
                remaining.removeAll { $0 == "enabled" }
            }
        }
        if !remaining.isEmpty {
            emit(.updated, CatalogCoding.json(DefinitionPayload(id: id, definition: definition, changed: remaining)), remaining)
        }
        return changes
    }

    /// Removes an object that nothing refers to any more.
    public static func remove<Definition: CatalogDefinition>(
        _ type: Definition.Type, id: UUIDString, in state: CatalogState
    )
        throws(CatalogError) -> [CatalogChange]
    {
        let kind = Definition.kind
        guard let entry = state.entry(type, id: id) else {
            throw CatalogError(.notFound, "the \(kind.displayName) \(state.label(kind, id)) does not exist")
        }
        let referrers = state.referrers(of: id)
        guard referrers.isEmpty else {
            throw CatalogError(
                .inUse,
                "the \(kind.displayName) '\(entry.definition.name)' is still used by \(referrers.joined(separator: ", ")): change or remove those first"
            )
        }
        return [
            CatalogChange(
                kind: kind, id: id, stream: kind.stream(of: id), expectedVersion: entry.version,
                eventType: CatalogEventType.name(kind, .removed),
                data: CatalogCoding.json(RemovedPayload(id: id, name: entry.definition.name)), changedFields: [])
        ]
    }

    private static func checkUnique<Definition: CatalogDefinition>(
        _ name: String, kind type: Definition.Type, except id: UUIDString?, in state: CatalogState
    ) throws(CatalogError) {
        if let existing = state.id(of: type, named: name), existing != id {
            let holder = state.entry(type, id: existing)?.definition.name ?? name
            throw CatalogError(
                .duplicateName,
                "a \(Definition.kind.displayName) named '\(holder)' already exists (names are compared without case): choose another name, or change it with 'tidemark \(Definition.kind.category) update'"
            )
        }
    }

    /// Refuses a chain of `after` schedules that leads back to the job it starts from.
    private static func checkChains(of id: UUIDString, in state: CatalogState) throws(CatalogError) {
        guard state.jobs[id] != nil else { return }
        var path = [id]
        var current = id
        while let predecessor = state.jobs[current]?.definition.schedule.predecessor {
            path.append(predecessor)
            if predecessor == id {
                let names = path.map { state.jobs[$0]?.definition.name ?? state.name(of: $0) }
                let detail =
                    path.count == 2
                    ? "job '\(names[0])' would start after itself"
                    : "job '\(names[0])' would start after itself through " + names.joined(separator: " → ")
                throw CatalogError(.scheduleCycle, "\(detail): choose a job that does not follow it, or another schedule")
            }
            if path.count > state.jobs.count + 1 { return }
            current = predecessor
        }
    }
}
