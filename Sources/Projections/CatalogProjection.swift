import Catalog
import EventStore
import Foundation
import Postgres
import WorkflowEvents

/// Projection "catalog": one row per live managed server, repository, proxy, throttling
/// rule and job, and each job's last session.
///
/// A batch folds each object's events in memory (loading the stored definition first when
/// the batch only renames or switches an object), then writes every table with one upsert
/// and one delete.
public struct CatalogProjection: Projection {
    public let name = "catalog"
    public let tables = ["managed_servers", "repositories", "proxies", "throttling_rules", "jobs"]
    public let categories = ObjectKind.allCases.map(\.category) + [SessionEvent.category, ScheduleEvent.category]

    public init() {}

    public func apply(_ events: [RecordedEvent], in schema: ProjectionSchema, on connection: isolated PostgresConnection) throws {
        try fold(events, ManagedServer.self, in: schema, on: connection)
        try fold(events, RepositoryDefinition.self, in: schema, on: connection)
        try fold(events, ProxyDefinition.self, in: schema, on: connection)
        try fold(events, ThrottlingRule.self, in: schema, on: connection)
        try fold(events, JobDefinition.self, in: schema, on: connection)
        try recordLastSessions(events, in: schema, on: connection)
        try recordNextRuns(events, in: schema, on: connection)
    }

    /// Jobs' `next_run_at`, from the scheduler's decisions (the latest per job wins).
    private func recordNextRuns(_ events: [RecordedEvent], in schema: ProjectionSchema, on connection: isolated PostgresConnection) throws {
        var next: [String: String?] = [:]
        for event in events {
            guard let job = ScheduleEvent.job(inStream: event.stream), UUID(uuidString: job) != nil else { continue }
            next[job] = .some(FlatJSON(event.data).string(ScheduleEvent.Field.nextRunAt))
        }
        guard !next.isEmpty else { return }
        var rows = RowBatch()
        for (job, at) in next.sorted(by: { $0.key < $1.key }) {
            rows.append(["job_id": .text(job), "at": at.flatMap { $0 }.map { .text($0) } ?? .null])
        }
        _ = try connection.query(
            """
            UPDATE \(schema.table("jobs")) j SET next_run_at = u.at
              FROM jsonb_to_recordset($1::jsonb) AS u(job_id uuid, at timestamptz)
             WHERE j.job_id = u.job_id
            """, [rows.json])
    }

    /// An object's row as the batch leaves it.
    struct Pending<Definition: CatalogDefinition> {
        var definition: Definition
        var version: Int64
        var createdAt: Date
        var updatedAt: Date
        var updatedBy: String?
    }

    private func fold<Definition: CatalogDefinition>(
        _ events: [RecordedEvent], _ type: Definition.Type, in schema: ProjectionSchema, on connection: isolated PostgresConnection
    ) throws {
        let kind = Definition.kind
        // The same events CatalogState folds: a uuid stream of the kind's category. Anything
        // else (written by hand with `events append`) is left out, never fatal.
        let mine = events.compactMap { event -> (RecordedEvent, CatalogEventType.Verb)? in
            guard let (eventKind, verb) = CatalogEventType.parse(event.type), eventKind == kind,
                event.stream.hasPrefix(kind.category + "-"), UUID(uuidString: Self.objectID(event)) != nil
            else { return nil }
            return (event, verb)
        }
        guard !mine.isEmpty else { return }
        let table = Self.table(of: kind)
        let decoder = CatalogCoding.decoder()
        var pending: [String: Pending<Definition>] = [:]
        var removed: [String] = []

        // Objects only renamed or switched in this batch start from their stored row.
        var needStored = Set<String>()
        var seenWhole = Set<String>()
        for (event, verb) in mine {
            let id = Self.objectID(event)
            if verb == .added || verb == .updated { seenWhole.insert(id) } else if !seenWhole.contains(id) { needStored.insert(id) }
        }
        if !needStored.isEmpty {
            let stored = try connection.query(
                "SELECT \(table.key)::text, definition::text, version, created_at FROM \(schema.table(table.name)) WHERE \(table.key) = ANY($1::uuid[])",
                [Array(needStored)])
            for row in 0..<stored.rowCount {
                guard let definition = try? decoder.decode(Definition.self, from: Data(try stored.decode(row, 1, as: String.self).utf8))
                else { continue }
                let created: Date = try stored.decode(row, 3)
                pending[try stored.decode(row, 0)] = Pending(
                    definition: definition, version: try stored.decode(row, 2), createdAt: created, updatedAt: created, updatedBy: nil)
            }
        }

        for (event, verb) in mine {
            let id = Self.objectID(event)
            let actor = (try? event.metadata())?.actor
            let data = Data(event.data.utf8)
            switch verb {
            case .added, .updated:
                guard let payload = try? decoder.decode(DefinitionPayload<Definition>.self, from: data) else { continue }
                let created = verb == .added ? event.recordedAt : (pending[id]?.createdAt ?? event.recordedAt)
                pending[id] = Pending(
                    definition: payload.definition, version: event.streamVersion, createdAt: created,
                    updatedAt: event.recordedAt, updatedBy: actor)
            case .removed:
                pending[id] = nil
                removed.append(id)
            case .renamed, .enabled, .disabled:
                guard var entry = pending[id] else { continue }
                if verb == .renamed {
                    guard let renamed = try? decoder.decode(RenamedPayload.self, from: data) else { continue }
                    entry.definition.name = renamed.to
                } else if var job = entry.definition as? JobDefinition {
                    job.enabled = verb == .enabled
                    entry.definition = job as! Definition
                }
                entry.version = event.streamVersion
                entry.updatedAt = event.recordedAt
                entry.updatedBy = actor
                pending[id] = entry
            }
        }

        var rows = RowBatch()
        for (id, entry) in pending.sorted(by: { $0.key < $1.key }) {
            rows.append(Self.row(id: id, entry))
        }
        try table.upsert.write(rows, in: schema, on: connection)
        if !removed.isEmpty {
            _ = try connection.query(
                "DELETE FROM \(schema.table(table.name)) WHERE \(table.key) = ANY($1::uuid[])", [removed])
        }
    }

    /// Jobs' `last_*` columns: the latest session started per job, then the results of
    /// sessions that finished (matched by session id, so an older session's late finish
    /// does not overwrite a newer start).
    private func recordLastSessions(
        _ events: [RecordedEvent], in schema: ProjectionSchema, on connection: isolated PostgresConnection
    ) throws {
        var started: [String: (session: String, at: Date)] = [:]
        var finishedBySession: [String: (result: String, reason: String?, at: Date)] = [:]
        for event in events {
            guard let session = SessionEvent.session(inStream: event.stream) else { continue }
            switch event.type {
            case SessionEvent.Kind.sessionStarted.rawValue:
                guard let job = FlatJSON(event.data).string(SessionEvent.Field.jobId), UUID(uuidString: job) != nil else { continue }
                started[job.lowercased()] = (session, event.recordedAt)
            case SessionEvent.Kind.sessionFinished.rawValue:
                let json = FlatJSON(event.data)
                finishedBySession[session] = (
                    json.string(SessionEvent.Field.result) ?? "unknown", json.string(SessionEvent.Field.reason), event.recordedAt
                )
            default: continue
            }
        }
        let jobs = schema.table("jobs")
        if !started.isEmpty {
            var rows = RowBatch()
            for (job, start) in started.sorted(by: { $0.key < $1.key }) {
                rows.append(["job_id": .text(job), "session_id": .text(start.session), "at": .time(start.at)])
            }
            _ = try connection.query(
                """
                UPDATE \(jobs) j SET last_session_id = u.session_id, last_result = 'running', last_started_at = u.at,
                       last_finished_at = NULL, last_reason = NULL
                  FROM jsonb_to_recordset($1::jsonb) AS u(job_id uuid, session_id text, at timestamptz)
                 WHERE j.job_id = u.job_id
                """, [rows.json])
        }
        var finished = RowBatch()
        for (session, end) in finishedBySession.sorted(by: { $0.key < $1.key }) {
            finished.append(["session_id": .text(session), "result": .text(end.result), "reason": .text(end.reason), "at": .time(end.at)])
        }
        if !finished.isEmpty {
            _ = try connection.query(
                """
                UPDATE \(jobs) j SET last_result = u.result, last_reason = u.reason, last_finished_at = u.at
                  FROM jsonb_to_recordset($1::jsonb) AS u(session_id text, result text, reason text, at timestamptz)
                 WHERE j.last_session_id = u.session_id
                """, [finished.json])
        }
    }

    static func objectID(_ event: RecordedEvent) -> String {
        String(event.stream.drop(while: { $0 != "-" }).dropFirst())
    }

    /// Where a kind of object lives: its table and key column.
    public struct Table: Sendable {
        public let name: String
        public let key: String
        let upsert: Upsert
    }

    public static func table(of kind: ObjectKind) -> Table {
        let (name, key, columns): (String, String, [String])
        switch kind {
        case .server:
            (name, key, columns) = (
                "managed_servers", "server_id", ["platform", "url", "user_name", "password_reference", "thumbprint", "folder"]
            )
        case .repository:
            (name, key, columns) = (
                "repositories", "repository_id", ["path", "max_concurrent_tasks", "free_space_threshold_percent", "site"]
            )
        case .proxy:
            (name, key, columns) = (
                "proxies", "proxy_id", ["site", "transport_modes", "max_concurrent_tasks", "datastores", "host", "cluster"]
            )
        case .throttle:
            (name, key, columns) = (
                "throttling_rules", "rule_id",
                ["source_sites", "source_proxy_ids", "target_repository_ids", "bytes_per_second", "window_start", "window_end"]
            )
        case .job:
            (name, key, columns) = (
                "jobs", "job_id",
                [
                    "description", "enabled", "server_id", "repository_id", "proxy_ids", "schedule", "schedule_text", "time_zone",
                    "retention",
                    "next_run_at",
                ]
            )
        }
        // Whole rows: every definition column is replaced; created_at and a job's last_* stay.
        let common = ["name", "version", "definition", "updated_at", "updated_by"]
        return Table(name: name, key: key, upsert: Upsert(table: name, key: [key], updated: common + columns, conflict: .replace))
    }

    static func row<Definition: CatalogDefinition>(id: String, _ entry: Pending<Definition>) -> KeyValuePairs<String, RowBatch.Value> {
        let definitionJSON = CatalogCoding.json(entry.definition)
        switch entry.definition {
        case let server as ManagedServer:
            return [
                "server_id": .text(id), "name": .text(server.name), "platform": .text(server.platform.rawValue),
                "url": .text(server.url), "user_name": .text(server.user),
                "password_reference": .text(server.passwordReference?.description),
                "thumbprint": .text(server.thumbprint), "folder": .text(server.folder), "version": .integer(entry.version),
                "definition": .json(definitionJSON), "created_at": .time(entry.createdAt), "updated_at": .time(entry.updatedAt),
                "updated_by": .text(entry.updatedBy),
            ]
        case let repository as RepositoryDefinition:
            return [
                "repository_id": .text(id), "name": .text(repository.name), "path": .text(repository.path),
                "max_concurrent_tasks": .integer(Int64(repository.maxConcurrentTasks)),
                "free_space_threshold_percent": .integer(Int64(repository.freeSpaceThresholdPercent)), "site": .text(repository.site),
                "version": .integer(entry.version), "definition": .json(definitionJSON), "created_at": .time(entry.createdAt),
                "updated_at": .time(entry.updatedAt), "updated_by": .text(entry.updatedBy),
            ]
        case let proxy as ProxyDefinition:
            return [
                "proxy_id": .text(id), "name": .text(proxy.name), "site": .text(proxy.site),
                "transport_modes": .texts(proxy.transportModes.map(\.rawValue)),
                "max_concurrent_tasks": .integer(Int64(proxy.maxConcurrentTasks)),
                "datastores": .texts(proxy.datastores), "host": .text(proxy.host), "cluster": .text(proxy.cluster),
                "version": .integer(entry.version), "definition": .json(definitionJSON), "created_at": .time(entry.createdAt),
                "updated_at": .time(entry.updatedAt), "updated_by": .text(entry.updatedBy),
            ]
        case let rule as ThrottlingRule:
            return [
                "rule_id": .text(id), "name": .text(rule.name), "source_sites": .texts(rule.sourceSites),
                "source_proxy_ids": .texts(rule.sourceProxies), "target_repository_ids": .texts(rule.targetRepositories),
                "bytes_per_second": .integer(rule.bytesPerSecond), "window_start": .text(rule.window?.start.description),
                "window_end": .text(rule.window?.end.description), "version": .integer(entry.version), "definition": .json(definitionJSON),
                "created_at": .time(entry.createdAt), "updated_at": .time(entry.updatedAt), "updated_by": .text(entry.updatedBy),
            ]
        case let job as JobDefinition:
            return [
                "job_id": .text(id), "name": .text(job.name), "description": .text(job.description), "enabled": .bool(job.enabled),
                "server_id": .text(job.server), "repository_id": .text(job.repository), "proxy_ids": .texts(job.proxies),
                "schedule": .json(CatalogCoding.json(job.schedule)), "schedule_text": .text(job.schedule.text { "job \($0)" }),
                "time_zone": .text(job.timeZone), "retention": .text(job.retention.description), "version": .integer(entry.version),
                // Until the scheduler records a decision: the first scheduled time after the change.
                "next_run_at": job.enabled ? .time(job.schedule.nextRun(after: entry.updatedAt, timeZone: job.timeZone)) : .null,
                "definition": .json(definitionJSON), "created_at": .time(entry.createdAt), "updated_at": .time(entry.updatedAt),
                "updated_by": .text(entry.updatedBy),
            ]
        default:
            return [:]
        }
    }
}
