import Catalog
import EventStore
import Foundation
import Hummingbird

/// What routes read from a request: paging limits, path names, who acts.
enum APIRequest {
    /// Lists return at most this many items; `limit` above it is refused, not cut.
    static let maximumLimit = 500
    static let defaultLimit = 50

    static func limit(_ request: Request, default: Int = defaultLimit) throws -> Int {
        guard let text = request.uri.queryParameters.get("limit") else { return `default` }
        guard let value = Int(text), (1...maximumLimit).contains(value) else {
            throw APIProblem.badRequest("limit must be a whole number from 1 to \(maximumLimit); '\(text)' is not")
        }
        return value
    }

    /// A name from the path: 1–400 bytes without control characters. Names are only ever
    /// looked up, never joined into a file path, so `..` or `/` simply match nothing.
    static func name(_ context: APIContext, _ parameter: String = "name") throws -> String {
        try text(try context.parameters.require(parameter), parameter)
    }

    /// A name given as a query parameter (a filter, a page's `after`), checked as path names
    /// are; absent is nil. A NUL byte would otherwise reach PostgreSQL, which refuses it in text.
    static func query(_ request: Request, _ parameter: String) throws -> String? {
        try request.uri.queryParameters.get(parameter).map { try text(String($0), parameter) }
    }

    static func text(_ value: String, _ parameter: String) throws -> String {
        guard !value.isEmpty, value.utf8.count <= 400, !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f })
        else { throw APIProblem.badRequest("'\(parameter)' must be 1 to 400 bytes without control characters") }
        return value
    }

    /// The job a person names: the one with the name now, or the one that last had it; 404
    /// naming the jobs there are otherwise.
    static func jobID(_ name: String, in state: CatalogState) throws -> UUIDString {
        guard let id = state.jobID(nowOrFormerlyNamed: name) else {
            throw APIProblem.notFound(
                UnknownName.message(
                    "job", name, relation: "is or was named", known: state.jobs.values.map(\.definition.name),
                    listCommand: "GET /api/v1/jobs"))
        }
        return id
    }

    /// A session id from the path: a lower-case uuid.
    static func sessionID(_ context: APIContext) throws -> String {
        let value = try context.parameters.require("id").lowercased()
        guard UUID(uuidString: value) != nil else {
            throw APIProblem.badRequest("a session id is a uuid such as 0b3e5c1e-6f0a-4c47-9d2c-2f9a8d3e4b5a")
        }
        return value
    }

    /// The metadata of events a request appends: the authenticated user, never a name the
    /// client chose, and its address.
    static func metadata(_ context: APIContext) -> EventMetadata {
        EventMetadata(
            correlationID: UUID(), actor: "api:\(context.user?.name ?? "anonymous")", host: ProcessInfo.processInfo.hostName,
            clientAddress: context.clientAddress)
    }
}
