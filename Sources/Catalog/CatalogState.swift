import Foundation

/// One object of the catalog with its history's summary.
public struct CatalogEntry<Definition: CatalogDefinition>: Sendable {
    public let id: UUIDString
    public internal(set) var definition: Definition
    /// The stream's version: the number of events about this object.
    public internal(set) var version: Int64
    public internal(set) var createdAt: Date
    public internal(set) var updatedAt: Date
    public internal(set) var updatedBy: String?
    /// For each top-level field, the version that last changed it (conflict checks).
    var fieldVersions: [String: Int64]

    /// The top-level fields changed after `version`: what a stale change would overwrite.
    public func fieldsChanged(since version: Int64) -> [String] {
        fieldVersions.filter { $0.value > version }.keys.sorted()
    }
}

/// The catalog folded from its events: what exists now (or at the position folded to).
///
/// Used to check commands, for `--as-of` views, and as the reference the projections must
/// agree with. Folding is deterministic: the same events give the same state.
public struct CatalogState: Sendable {
    public internal(set) var servers: [UUIDString: CatalogEntry<ManagedServer>] = [:]
    public internal(set) var repositories: [UUIDString: CatalogEntry<RepositoryDefinition>] = [:]
    public internal(set) var proxies: [UUIDString: CatalogEntry<ProxyDefinition>] = [:]
    public internal(set) var throttlingRules: [UUIDString: CatalogEntry<ThrottlingRule>] = [:]
    public internal(set) var jobs: [UUIDString: CatalogEntry<JobDefinition>] = [:]
    /// The log position of the last event folded in.
    public private(set) var position: Int64 = 0
    /// Every id ever seen and the last name it had, so old references still read as names.
    public private(set) var lastNames: [UUIDString: String] = [:]
    /// Every name ever given, per kind (`job:nightly`), and the id that had it last.
    private var formerHolders: [String: UUIDString] = [:]

    public init() {}

    /// A reference as people read it: the name in quotes, or the bare id if never seen.
    public func label(_ kind: ObjectKind, _ id: UUIDString) -> String {
        lastNames[id].map { "'\($0)'" } ?? id
    }

    /// The name of an object, or its id if it never existed.
    public func name(of id: UUIDString) -> String { lastNames[id] ?? id }

    /// The entries of one kind.
    public func entries<Definition: CatalogDefinition>(_ type: Definition.Type) -> [UUIDString: CatalogEntry<Definition>] {
        switch Definition.kind {
        case .server: return servers as! [UUIDString: CatalogEntry<Definition>]
        case .repository: return repositories as! [UUIDString: CatalogEntry<Definition>]
        case .proxy: return proxies as! [UUIDString: CatalogEntry<Definition>]
        case .throttle: return throttlingRules as! [UUIDString: CatalogEntry<Definition>]
        case .job: return jobs as! [UUIDString: CatalogEntry<Definition>]
        }
    }

    /// One entry of a kind by id. Casts the one entry, not the dictionary: a fold looks up
    /// the entry of every event, and casting a whole dictionary copies it (a fold of n
    /// objects' events would take n² steps).
    public func entry<Definition: CatalogDefinition>(_ type: Definition.Type, id: UUIDString) -> CatalogEntry<Definition>? {
        switch Definition.kind {
        case .server: return servers[id] as! CatalogEntry<Definition>?
        case .repository: return repositories[id] as! CatalogEntry<Definition>?
        case .proxy: return proxies[id] as! CatalogEntry<Definition>?
        case .throttle: return throttlingRules[id] as! CatalogEntry<Definition>?
        case .job: return jobs[id] as! CatalogEntry<Definition>?
        }
    }

    mutating func setEntry<Definition: CatalogDefinition>(_ entry: CatalogEntry<Definition>?, id: UUIDString) {
        switch Definition.kind {
        case .server: servers[id] = entry as! CatalogEntry<ManagedServer>?
        case .repository: repositories[id] = entry as! CatalogEntry<RepositoryDefinition>?
        case .proxy: proxies[id] = entry as! CatalogEntry<ProxyDefinition>?
        case .throttle: throttlingRules[id] = entry as! CatalogEntry<ThrottlingRule>?
        case .job: jobs[id] = entry as! CatalogEntry<JobDefinition>?
        }
    }

    /// The id of the live object of a kind with this name (case-insensitive).
    public func id<Definition: CatalogDefinition>(of type: Definition.Type, named name: String) -> UUIDString? {
        let key = ObjectName.key(name)
        return entries(type).first { ObjectName.key($0.value.definition.name) == key }?.key
    }

    /// The id of the live object named `name`, or a not-found error that lists what exists.
    public func require<Definition: CatalogDefinition>(_ type: Definition.Type, named name: String) throws(CatalogError) -> UUIDString {
        if let id = id(of: type, named: name) { return id }
        throw CatalogError.unknown(Definition.kind, named: name, known: entries(type).values.map(\.definition.name))
    }

    /// Live objects that refer to `id`, as "kind 'name'" labels.
    public func referrers(of id: UUIDString) -> [String] {
        var result: [String] = []
        func scan<D: CatalogDefinition>(_ type: D.Type) {
            for entry in entries(type).values where entry.definition.references.contains(where: { $0.id == id }) {
                result.append("\(D.kind.displayName) '\(entry.definition.name)'")
            }
        }
        scan(JobDefinition.self)
        scan(ThrottlingRule.self)
        return result.sorted()
    }

    /// The state after `changes`, as if they had been appended now: lets a command of
    /// several steps (a file of jobs) decide each step on the state the previous ones leave.
    public func applying(_ changes: [CatalogChange], at moment: Date = Date()) -> CatalogState {
        var next = self
        var versions: [String: Int64] = [:]
        for change in changes {
            let version = (versions[change.stream] ?? change.expectedVersion) + 1
            versions[change.stream] = version
            next.apply(
                CatalogEventRecord(
                    stream: change.stream, streamVersion: version, position: next.position, type: change.eventType,
                    data: change.data, recordedAt: moment, actor: nil))
        }
        return next
    }

    /// Catalog events that were left out because their stream id is not a uuid or their data
    /// does not decode (written by hand with `events append`, say): counted, never fatal.
    public private(set) var skippedEvents = 0

    /// Folds one catalog event in; other events only move the position.
    public mutating func apply(_ record: CatalogEventRecord) {
        defer { position = max(position, record.position) }
        guard let (kind, verb) = CatalogEventType.parse(record.type), record.stream.hasPrefix(kind.category + "-") else { return }
        let id = String(record.stream.dropFirst(kind.category.count + 1))
        guard UUID(uuidString: id) != nil else {
            skippedEvents += 1
            return
        }
        let applied: Bool
        switch kind {
        case .server: applied = apply(record, id: id, verb: verb, as: ManagedServer.self)
        case .repository: applied = apply(record, id: id, verb: verb, as: RepositoryDefinition.self)
        case .proxy: applied = apply(record, id: id, verb: verb, as: ProxyDefinition.self)
        case .throttle: applied = apply(record, id: id, verb: verb, as: ThrottlingRule.self)
        case .job: applied = apply(record, id: id, verb: verb, as: JobDefinition.self)
        }
        if !applied { skippedEvents += 1 }
    }

    private mutating func apply<Definition: CatalogDefinition>(
        _ record: CatalogEventRecord, id: UUIDString, verb: CatalogEventType.Verb, as type: Definition.Type
    ) -> Bool {
        let decoder = CatalogCoding.decoder()
        let data = Data(record.data.utf8)
        switch verb {
        case .added, .updated:
            guard let payload = try? decoder.decode(DefinitionPayload<Definition>.self, from: data) else { return false }
            var entry =
                entry(type, id: id)
                ?? CatalogEntry(
                    id: id, definition: payload.definition, version: 0, createdAt: record.recordedAt,
                    updatedAt: record.recordedAt, updatedBy: record.actor, fieldVersions: [:])
            let changed = verb == .added ? Array(CatalogCoding.fields(payload.definition).keys) : (payload.changed ?? [])
            for field in changed { entry.fieldVersions[field] = record.streamVersion }
            entry.definition = payload.definition
            touch(&entry, record)
            remember(payload.definition.name, of: Definition.kind, id: id)
            setEntry(entry, id: id)
        case .removed:
            setEntry(nil as CatalogEntry<Definition>?, id: id)
        case .renamed:
            guard let payload = try? decoder.decode(RenamedPayload.self, from: data) else { return false }
            guard var entry = entry(type, id: id) else { return true }
            entry.definition.name = payload.to
            entry.fieldVersions["name"] = record.streamVersion
            touch(&entry, record)
            remember(payload.to, of: Definition.kind, id: id)
            setEntry(entry, id: id)
        case .enabled, .disabled:
            guard var entry = jobs[id] else { return true }
            entry.definition.enabled = verb == .enabled
            entry.fieldVersions["enabled"] = record.streamVersion
            touch(&entry, record)
            jobs[id] = entry
        }
        return true
    }

    private mutating func remember(_ name: String, of kind: ObjectKind, id: UUIDString) {
        lastNames[id] = name
        formerHolders["\(kind.category):\(ObjectName.key(name))"] = id
    }

    /// The id of the object of `kind` that last had `name` (it may have been renamed or removed since).
    public func formerHolder(of kind: ObjectKind, named name: String) -> UUIDString? {
        formerHolders["\(kind.category):\(ObjectName.key(name))"]
    }

    /// The job named `name` now or, when none is, the one that last had the name (renamed or
    /// removed since): how histories, statistics and restore points find a job by the name a
    /// person remembers.
    public func jobID(nowOrFormerlyNamed name: String) -> UUIDString? {
        id(of: JobDefinition.self, named: name) ?? formerHolder(of: .job, named: name)
    }

    private func touch<Definition>(_ entry: inout CatalogEntry<Definition>, _ record: CatalogEventRecord) {
        entry.version = record.streamVersion
        entry.updatedAt = record.recordedAt
        entry.updatedBy = record.actor
    }
}
