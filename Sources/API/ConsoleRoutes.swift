import Crypto
import EventStore
import Foundation
import Hummingbird
import NIOCore

/// The web console's files, served at `/` (the page) and `/ui/NAME` (its scripts and style),
/// read once from the build's resources. The console is static: everything it shows comes
/// from `/api/v1` with the signed-in user's cookie, so nothing here knows who asks.
///
/// Names are looked up in the table of files bundled, never joined into a path, so no request
/// can reach another file. Every answer carries a Content-Security-Policy that allows this
/// origin's scripts and styles only (no inline script, no other host), and forbids framing.
/// No Strict-Transport-Security: with the self-signed certificate a server makes for itself, a
/// browser that had pinned HSTS would refuse the server for a year after the pair is remade.
struct ConsoleRoutes {
    struct Asset: Sendable {
        let body: ByteBuffer
        let contentType: String
        let entityTag: String
    }

    let assets: [String: Asset]

    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy:
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        .xContentTypeOptions: "nosniff",
        HTTPFields.Element.Name("Referrer-Policy")!: "no-referrer",
        HTTPFields.Element.Name("X-Frame-Options")!: "DENY",
    ]

    /// The console's files from the build's resources (`Sources/API/Resources/console`).
    static func load() throws -> ConsoleRoutes {
        guard let folder = Bundle.module.url(forResource: "console", withExtension: nil) else {
            throw APIServerError("the web console's files are missing from this build (Sources/API/Resources/console)")
        }
        var assets: [String: Asset] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() {
            guard let type = contentTypes[(name as NSString).pathExtension] else { continue }
            let data = try Data(contentsOf: folder.appendingPathComponent(name))
            let tag = "\"" + SHA256.hash(data: data).prefix(12).hexString + "\""
            assets[name] = Asset(body: ByteBuffer(bytes: data), contentType: type, entityTag: tag)
        }
        guard assets["index.html"] != nil else { throw APIServerError("the web console's index.html is missing from this build") }
        return ConsoleRoutes(assets: assets)
    }

    static let contentTypes = [
        "html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8",
        "svg": "image/svg+xml",
    ]

    func add(to router: Router<APIContext>) {
        router.get("/") { request, _ in try serve("index.html", request) }
        router.get("ui/:file") { request, context in try serve(try context.parameters.require("file"), request) }
    }

    func serve(_ name: String, _ request: Request) throws -> Response {
        guard name != "index.html" || request.uri.path == "/", let asset = assets[name] else {
            throw APIProblem.notFound("the console has no file '\(name)'")
        }
        var headers = Self.securityHeaders
        headers[.contentType] = asset.contentType
        headers[.eTag] = asset.entityTag
        // Revalidated on every load: a new build's console is picked up at once.
        headers[.cacheControl] = "no-cache"
        if request.headers[.ifNoneMatch] == asset.entityTag { return Response(status: .notModified, headers: headers) }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: asset.body))
    }
}
