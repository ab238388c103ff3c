import Foundation
import Hummingbird
import NIOCore

/// An error answered as `application/problem+json` (RFC 9457): the status, a short title and,
/// except for 401, a detail saying what was wrong and how to fix it.
public struct APIProblem: Error, HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let detail: String?
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ detail: String?) {
        self.status = status
        self.detail = detail
    }

    /// 401 says nothing about why: a guesser learns nothing from it.
    public static var unauthorized: APIProblem {
        var problem = APIProblem(.unauthorized, nil)
        problem.headers[.wwwAuthenticate] = #"Bearer realm="tidemark""#
        return problem
    }

    public static func notFound(_ detail: String) -> APIProblem { APIProblem(.notFound, detail) }
    public static func badRequest(_ detail: String) -> APIProblem { APIProblem(.badRequest, detail) }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var object: [String: Any] = ["type": "about:blank", "title": status.reasonPhrase, "status": status.code]
        if let detail { object["detail"] = detail }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        var fields = headers
        fields[.contentType] = "application/problem+json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// JSON responses whose bodies are already JSON text (PostgreSQL's `row_to_json`, so the keys
/// are the `reporting` views' columns, the same a SQL tool and `--json` see).
enum JSONResponse {
    static func text(_ json: String, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: json)))
    }

    static func object(_ object: [String: Any], status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> Response {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return text(String(decoding: data, as: UTF8.self), status: status, headers: headers)
    }
}
