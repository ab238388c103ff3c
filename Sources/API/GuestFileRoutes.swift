import EventStore
import Foundation
import Hummingbird
import Postgres

/// `GET /api/v1/restore-points/{id}/files`: a restore point's guest files as the guest file
/// index holds them (jobs with `index_guest_files`), for the console's file browser: the
/// point's indexed file systems, then one folder's entries by name (`path`, default `/`), or
/// the files whose name contains `search`, on one file system (`disk`, `partition`, default
/// the first). Read from the index, never from the repository, so browsing costs no chunk
/// reads. For those who may restore (the names of a guest's files are its owner's business);
/// a restore operator limited to some VMs sees only theirs.
struct GuestFileRoutes {
    let store: EventStore

    func add(to group: RouterGroup<APIContext>) {
        group.get("restore-points/:id/files", use: files)
    }

    @Sendable func files(_ request: Request, context: APIContext) async throws -> Response {
        let user = try context.require(.restore)
        let point = try APIRequest.text(try context.parameters.require("id"), "id")
        let query = try Query(request)
        let owner = try await store.pool.query(
            "SELECT vm_name, job_id FROM reporting.restore_points WHERE restore_point_id = $1 AND available", [point])
        let vmName = owner.rowCount == 1 ? try owner.decodeIfPresent(0, 0, as: String.self) : nil
        let jobID = owner.rowCount == 1 ? try owner.decodeIfPresent(0, 1, as: String.self) : nil
        if owner.rowCount != 1 || (user.scope.map { !$0.permits(vmName: vmName ?? "", jobID: jobID) } ?? false) {
            throw APIProblem.notFound(
                "no available restore point \(point) whose files '\(user.name)' may see: see GET /api/v1/restore-points")
        }
        // The point's file systems, and the one asked for (the first by default), in one read.
        let volume = try await store.pool.query(
            """
            WITH v AS (SELECT * FROM guest_index.volumes WHERE restore_point_id = $1)
            SELECT (SELECT coalesce(json_agg(json_build_object('disk', v.disk, 'partition', v.partition, 'file_system', v.file_system,
                                                               'files', v.files, 'indexed_at', v.indexed_at)
                                             ORDER BY v.disk, v.partition), '[]')::text FROM v),
                   c.vm_id, c.disk, c.partition, c.seq
              FROM (SELECT 1) one
              LEFT JOIN LATERAL (SELECT v.vm_id, v.disk, v.partition, v.seq FROM v
                                  WHERE ($2::text IS NULL OR v.disk = $2) AND ($3::integer IS NULL OR v.partition = $3)
                                  ORDER BY v.disk, v.partition LIMIT 1) c ON true
            """, [point, query.disk, query.partition.map(Int64.init)])
        let volumeList: String = try volume.decode(0, 0)
        guard !volume.isNull(0, 1) else {
            if query.disk != nil || query.partition != nil {
                throw APIProblem.notFound("the restore point \(point) has no indexed file system on that disk and partition: see 'volumes'")
            }
            return JSONResponse.text(#"{"volumes":[],"items":[],"next":null}"#)
        }
        let vm: String = try volume.decode(0, 1)
        let disk: String = try volume.decode(0, 2)
        let partition: Int64 = try volume.decode(0, 3)
        let seq: Int64 = try volume.decode(0, 4)
        let selection: String
        var values: [any PostgresEncodable] = [vm, disk, partition, seq, query.after ?? "", Int64(query.limit)]
        if let search = query.search {
            values.append(Self.likeEscaped(search))
            selection = "f.name ILIKE '%' || $7 || '%' ESCAPE '\\' AND f.path > $5"
        } else {
            values.append(query.path == "/" ? "/" : query.path + "/")
            selection = "starts_with(f.path, $7) AND strpos(substr(f.path, length($7) + 1), '/') = 0 AND f.path > $5"
        }
        let result = try await store.pool.query(
            """
            WITH page AS (
              SELECT f.name, f.path, f.kind, f.size_bytes, f.mode, f.uid, f.gid, f.modified_at, f.link_target
                FROM guest_index.files f
               WHERE f.vm_id = $1 AND f.disk = $2 AND f.partition = $3 AND f.first_seq <= $4 AND (f.last_seq IS NULL OR f.last_seq >= $4)
                 AND \(selection)
               ORDER BY f.path LIMIT $6)
            SELECT coalesce((SELECT json_agg(row_to_json(p) ORDER BY p.path) FROM page p), '[]')::text,
                   (SELECT count(*) FROM page), (SELECT max(path) FROM page)
            """, values)
        let items: String = try result.decode(0, 0)
        var next = "null"
        if try result.decode(0, 1, as: Int64.self) == Int64(query.limit), let last = try result.decodeIfPresent(0, 2, as: String.self) {
            var parameters = [
                "disk=\(percentEncoded(disk))", "partition=\(partition)", "limit=\(query.limit)", "after=\(percentEncoded(last))",
            ]
            if let search = query.search {
                parameters.append("search=\(percentEncoded(search))")
            } else {
                parameters.append("path=\(percentEncoded(query.path))")
            }
            next = "\"/api/v1/restore-points/\(percentEncoded(point))/files?\(parameters.joined(separator: "&"))\""
        }
        let shown = #"{"disk":\#(JSONString.quoted(disk)),"partition":\#(partition)}"#
        let place = query.search.map { #""search":\#(JSONString.quoted($0))"# } ?? #""path":\#(JSONString.quoted(query.path))"#
        return JSONResponse.text(#"{"volumes":\#(volumeList),"volume":\#(shown),\#(place),"items":\#(items),"next":\#(next)}"#)
    }

    /// `%`, `_` and `\` in a search stand for themselves.
    static func likeEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(
            of: "_", with: "\\_")
    }

    /// The request's query: checked before anything is read.
    struct Query {
        var disk: String?
        var partition: Int?
        var path = "/"
        var search: String?
        var after: String?
        var limit: Int

        init(_ request: Request) throws {
            let parameters = request.uri.queryParameters
            disk = try APIRequest.query(request, "disk")
            if let text = parameters.get("partition") {
                guard let value = Int(text), (0...128).contains(value) else {
                    throw APIProblem.badRequest("partition is a number from 0 (a file system on the whole disk) to 128, not '\(text)'")
                }
                partition = value
            }
            if let text = try APIRequest.query(request, "path") {
                guard text.hasPrefix("/"), !text.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) else {
                    throw APIProblem.badRequest("path is a folder's absolute path in the guest, such as /etc, not '\(text)'")
                }
                path = text.count > 1 && text.hasSuffix("/") ? String(text.dropLast()) : text
            }
            search = try APIRequest.query(request, "search")
            if let search, search.contains("/") {
                throw APIProblem.badRequest("search is part of a file's name (no '/'), not '\(search)'")
            }
            after = try APIRequest.query(request, "after")
            limit = try APIRequest.limit(request, default: 200)
        }
    }
}
