import Foundation

/// An event about to be appended.
///
/// The id is chosen by the writer, before the append, so that a writer which lost the
/// reply can send the same event again and get the original position back.
public struct NewEvent: Sendable, Equatable {
    /// The largest `data` and metadata accepted together, in bytes of JSON; the append
    /// functions enforce the same limit on what they store (SQLSTATE TM011). Bulk data
    /// (manifests, chunk lists) belongs in the repository, referenced from an event.
    public static let maximumDataBytes = 1 << 20

    public let id: UUID
    public let type: String
    public let schemaVersion: Int
    /// A JSON object, as text.
    public let data: String
    public let metadata: EventMetadata
    /// The metadata's JSON, made once here rather than on every send of a retry.
    let metadataJSON: String

    /// Takes JSON text and checks it: it must be one JSON object, at most `maximumDataBytes`.
    public init(
        id: UUID = UUID(), type: String, jsonData: String, schemaVersion: Int = 1,
        metadata: EventMetadata = EventMetadata()
    ) throws(EventStoreError) {
        try Self.validate(type: type, schemaVersion: schemaVersion)
        let metadataJSON = metadata.jsonText
        try Self.validate(json: jsonData, type: type, metadataBytes: metadataJSON.utf8.count)
        self.id = id
        self.type = type
        self.schemaVersion = schemaVersion
        self.data = jsonData
        self.metadata = metadata
        self.metadataJSON = metadataJSON
    }

    /// Encodes a Codable value as the event's data.
    public init<Payload: Encodable>(
        id: UUID = UUID(), type: String, payload: Payload, schemaVersion: Int = 1,
        metadata: EventMetadata = EventMetadata()
    ) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        let json = String(decoding: try encoder.encode(payload), as: UTF8.self)
        try self.init(id: id, type: type, jsonData: json, schemaVersion: schemaVersion, metadata: metadata)
    }

    static func validate(type: String, schemaVersion: Int) throws(EventStoreError) {
        let scalars = Array(type.unicodeScalars)
        let valid =
            !scalars.isEmpty && scalars.count <= 100
            && isASCIILetter(scalars[0])
            && scalars.allSatisfy { isASCIILetter($0) || ("0"..."9").contains($0) || "_.-".unicodeScalars.contains($0) }
        guard valid else {
            throw .invalid(
                "the event type '\(EscapedText.escaped(type))' is not valid: start with a letter, then up to 99 letters, digits, '_', '.' or '-' (for example 'JobCreated')"
            )
        }
        guard schemaVersion >= 1 else {
            throw .invalid("the schema version \(schemaVersion) of '\(type)' must be 1 or more")
        }
    }

    private static func isASCIILetter(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
    }

    static func validate(json: String, type: String, metadataBytes: Int = 0) throws(EventStoreError) {
        let size = json.utf8.count
        guard size + metadataBytes <= maximumDataBytes else {
            throw .invalid(
                "the data of '\(type)' is \(size) bytes (\(metadataBytes) more of metadata); the limit is \(maximumDataBytes) for both: keep bulk data in the repository and reference it"
            )
        }
        if let problem = JSONSyntax.problem(in: json) {
            throw .invalid(
                "the data of '\(type)' is not a valid JSON object: \(problem). Give one JSON object, such as {\"name\": \"nightly\"}")
        }
    }
}
