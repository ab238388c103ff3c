import Catalog
import Foundation
import Hummingbird
import NIOCore

/// What a request that changes a definition sends: its body as text (JSON or YAML, by
/// `Content-Type`), the version it was based on (`If-Match`) and whether to only show what
/// would change (`?dry_run=true`).
struct DefinitionBody {
    /// The media types a definition is accepted in. JSON is read by the same YAML reader as
    /// `job apply`'s files (JSON is YAML's flow style), after a strict JSON check, so the
    /// keys, checks and messages are the command line's.
    static let jsonTypes = ["application/json"]
    static let yamlTypes = ["application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"]

    /// The body, read whole up to the context's limit (1 MiB: a job file is a few KB).
    static func text(_ request: inout Request, context: APIContext) async throws -> String {
        let type = mediaType(request)
        guard let type, jsonTypes.contains(type) || yamlTypes.contains(type) else {
            throw APIProblem(
                .unsupportedMediaType,
                "send the definition as application/json or application/yaml (Content-Type), not \(type.map { "'\($0)'" } ?? "without a type")"
            )
        }
        let text = try await collect(&request, context: context)
        if jsonTypes.contains(type) { try checkJSON(text) }
        return text
    }

    /// A request body that is JSON only (a restore, a publish), read as a definition's is.
    static func json(_ request: inout Request, context: APIContext) async throws -> JSONFields {
        let type = mediaType(request)
        guard let type, jsonTypes.contains(type) else {
            throw APIProblem(
                .unsupportedMediaType,
                "send the request as application/json (Content-Type), not \(type.map { "'\($0)'" } ?? "without a type")")
        }
        return try JSONFields(body: try await collect(&request, context: context))
    }

    /// `Content-Type` without its parameters, in lower case; `;` alone or an empty header is no type.
    static func mediaType(_ request: Request) -> String? {
        request.headers[.contentType].flatMap { $0.split(separator: ";").first }.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        }
    }

    /// The body as UTF-8 text, up to the context's limit (413 past it).
    static func collect(_ request: inout Request, context: APIContext) async throws -> String {
        let limit = context.maxUploadSize
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit { throw tooLarge(limit) }
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw tooLarge(limit)
        }
        guard let text = buffer.getString(at: buffer.readerIndex, length: buffer.readableBytes), text.utf8.count == buffer.readableBytes
        else { throw APIProblem.badRequest("the body is not UTF-8 text") }
        return text
    }

    static func tooLarge(_ limit: Int) -> APIProblem {
        APIProblem(.contentTooLarge, "the body is larger than \(limit >> 20) MiB: a definition is a few KB; send one at a time")
    }

    /// Malformed JSON is refused with where it broke (Foundation says line and column).
    static func checkJSON(_ text: String, example: String = #"a definition is {"name": ..., ...}"#) throws {
        do {
            let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
            guard object is [String: Any] else {
                throw APIProblem.badRequest("the body is JSON but not an object: \(example)")
            }
        } catch let problem as APIProblem {
            throw problem
        } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            throw APIProblem.badRequest("the body is not valid JSON\(position(of: detail, in: text)): \(detail)")
        }
    }

    /// " at line L, column C" from Foundation's "around character N" (N counts bytes from 0).
    static func position(of detail: String, in text: String) -> String {
        let offset: Int
        if let range = detail.range(of: #"character \d+"#, options: .regularExpression),
            let found = Int(detail[range].dropFirst("character ".count))
        {
            offset = found
        } else if detail.lowercased().contains("end of file") {
            offset = text.utf8.count  // it ended early: where it ended
        } else {
            return ""
        }
        let before = text.utf8.prefix(offset)
        let line = before.count(where: { $0 == 10 }) + 1
        let column = before.count - (before.lastIndex(of: 10).map { before.distance(from: before.startIndex, to: $0) + 1 } ?? 0) + 1
        return " at line \(line), column \(column)"
    }

    /// `If-Match: "3"` (or `W/"3"`, or a bare 3): the definition's version the change is based
    /// on; nil when the header is absent.
    static func expectedVersion(_ request: Request) throws -> Int64? {
        guard let header = request.headers[.ifMatch] else { return nil }
        var text = header.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("W/") { text.removeFirst(2) }
        if text.hasPrefix("\"") && text.hasSuffix("\"") && text.count >= 2 { text = String(text.dropFirst().dropLast()) }
        guard let version = Int64(text), version > 0 else {
            throw APIProblem.badRequest(
                "If-Match must be the ETag a GET returned, such as \"3\" (the definition's version), not '\(header)'")
        }
        return version
    }

    /// `?dry_run=true`: decide, append nothing, answer what would change.
    static func dryRun(_ request: Request) throws -> Bool {
        switch request.uri.queryParameters.get("dry_run") {
        case nil, "false": return false
        case "true": return true
        case let other?: throw APIProblem.badRequest("dry_run is true or false, not '\(other)'")
        }
    }

    /// The `ETag` of a definition at `version`.
    static func entityTag(_ version: Int64) -> String { "\"\(version)\"" }
}

extension APIProblem {
    /// A refused catalog command as HTTP: what the decider said, under the status that
    /// tells a client what to do (fix the body, pick another name, read again). Routes look
    /// the path's object up first (404), so a name the decider does not know is one the
    /// body gave: 400.
    init(_ error: CatalogError) {
        let status: HTTPResponse.Status =
            switch error.code {
            case .invalidValue, .invalidDocument, .scheduleCycle, .noChange, .notFound: .badRequest
            case .duplicateName, .inUse: .conflict
            case .staleVersion: .preconditionFailed
            case .notPermitted: .forbidden
            }
        self.init(status, error.message)
    }
}
