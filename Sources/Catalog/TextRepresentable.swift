/// A value people write as one line of text (`22:00`, `vm:web-01`, `env:VC_PASSWORD`) and
/// that events store as that same text, so the log reads the way the command was typed.
public protocol TextRepresentable: Codable, CustomStringConvertible {
    init(parsing text: String) throws(CatalogError)
}

extension TextRepresentable {
    public init(from decoder: any Decoder) throws {
        self = try Self(parsing: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
