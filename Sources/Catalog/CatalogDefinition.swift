import Foundation

/// What every kind of catalog object has in common: a name, checks of its own values and
/// of the objects it refers to, and the references that keep those objects from removal.
public protocol CatalogDefinition: Codable, Sendable, Equatable {
    static var kind: ObjectKind { get }
    var name: String { get set }
    /// Checks values and references against the catalog the object would join.
    /// Name uniqueness is the decider's job, not the definition's.
    func validate(in catalog: CatalogState) throws(CatalogError)
    /// The objects this one refers to by id.
    var references: [(kind: ObjectKind, id: UUIDString)] { get }
}

/// The one JSON form of definitions in events: snake_case keys, sorted, so that equal
/// definitions are equal text and projections can read fields with `->>`.
public enum CatalogCoding {
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }

    public static func json<T: Encodable>(_ value: T) -> String {
        // Encoding plain value types into JSON cannot fail.
        String(decoding: (try? encoder().encode(value)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// The top-level fields of a definition as JSON texts, for diffs and conflict checks.
    public static func fields<T: Encodable>(_ value: T) -> [String: String] {
        guard let data = try? encoder().encode(value),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return [:] }
        var fields: [String: String] = [:]
        for (key, field) in object {
            if let text = field as? String {
                fields[key] = text
            } else if let encoded = try? JSONSerialization.data(
                withJSONObject: field, options: [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes])
            {
                fields[key] = String(decoding: encoded, as: UTF8.self)
            }
        }
        return fields
    }

    /// The names of the top-level fields whose values differ.
    public static func changedFields<T: Encodable>(from old: T, to new: T) -> [String] {
        let before = fields(old), after = fields(new)
        return Set(before.keys).union(after.keys).filter { before[$0] != after[$0] }.sorted()
    }
}
