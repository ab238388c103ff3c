import Foundation
import Hummingbird
import Yams

/// The API's contract: `Resources/openapi.yaml` (OpenAPI 3.1), served as JSON at
/// `/api/v1/openapi.json`. The routes are written by hand and checked against it by
/// schemathesis in the test suite (see ARCHITECTURE, "The HTTPS API").
enum OpenAPIDocument {
    /// The document as JSON, converted once from the bundled YAML.
    static func json() throws -> String {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml") else {
            throw APIServerError("the OpenAPI document is missing from this build (Sources/API/Resources/openapi.yaml)")
        }
        let yaml = try String(contentsOf: url, encoding: .utf8)
        guard let object = try Yams.load(yaml: yaml) else { throw APIServerError("the OpenAPI document is empty") }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}
