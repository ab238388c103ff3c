import Foundation

/// One bound parameter as it travels to the server.
public enum PostgresParameter: Sendable, Equatable {
    case null
    /// Text format; the server infers the type from the statement.
    case text(String)
    /// Binary format with the type's OID, used for `bytea`.
    case binary([UInt8], oid: UInt32)
}

/// A Swift value that can be bound as a statement parameter.
///
/// Every value reaches the server through a parameter, never through the SQL text,
/// so no input can change a statement's meaning.
public protocol PostgresEncodable: Sendable {
    var postgresParameter: PostgresParameter { get }
}

/// A value that can stand as an element of a PostgreSQL array parameter (`text[]`, `uuid[]`, `jsonb[]`...).
public protocol PostgresArrayElement: PostgresEncodable {
    /// The element's text form, before array quoting; nil for NULL.
    var postgresArrayText: String? { get }
}

extension String: PostgresArrayElement {
    public var postgresParameter: PostgresParameter { .text(self) }
    public var postgresArrayText: String? { self }
}

extension Substring: PostgresEncodable {
    public var postgresParameter: PostgresParameter { .text(String(self)) }
}

extension Int: PostgresArrayElement {
    public var postgresParameter: PostgresParameter { .text(String(self)) }
    public var postgresArrayText: String? { String(self) }
}

extension Int64: PostgresArrayElement {
    public var postgresParameter: PostgresParameter { .text(String(self)) }
    public var postgresArrayText: String? { String(self) }
}

extension Int32: PostgresArrayElement {
    public var postgresParameter: PostgresParameter { .text(String(self)) }
    public var postgresArrayText: String? { String(self) }
}

extension Double: PostgresArrayElement {
    public var postgresParameter: PostgresParameter { .text(String(self)) }
    public var postgresArrayText: String? { String(self) }
}

extension Bool: PostgresArrayElement {
    public var postgresParameter: PostgresParameter { .text(self ? "t" : "f") }
    public var postgresArrayText: String? { self ? "t" : "f" }
}

extension UUID: PostgresArrayElement {
    public var postgresParameter: PostgresParameter { .text(uuidString) }
    public var postgresArrayText: String? { uuidString }
}

extension Date: PostgresArrayElement {
    public var postgresParameter: PostgresParameter { .text(PostgresTimestamp.format(self)) }
    /// ISO text in UTC with microseconds, which `timestamptz` reads exactly.
    public var postgresArrayText: String? { PostgresTimestamp.format(self) }
}

extension Data: PostgresEncodable {
    public var postgresParameter: PostgresParameter { .binary([UInt8](self), oid: 17) }
}

extension Array: PostgresEncodable where Element: PostgresArrayElement {
    public var postgresParameter: PostgresParameter {
        .text(PostgresArrayLiteral.encode(self.lazy.map(\.postgresArrayText)))
    }
}

extension Optional: PostgresEncodable where Wrapped: PostgresEncodable {
    public var postgresParameter: PostgresParameter {
        switch self {
        case .none: return .null
        case .some(let value): return value.postgresParameter
        }
    }
}

extension Optional: PostgresArrayElement where Wrapped: PostgresArrayElement {
    public var postgresArrayText: String? { self?.postgresArrayText }
}

/// JSON text bound to a `json`/`jsonb` parameter; the server validates it.
public struct PostgresJSON: PostgresArrayElement, Hashable {
    public let text: String
    public init(text: String) { self.text = text }
    public var postgresParameter: PostgresParameter { .text(text) }
    public var postgresArrayText: String? { text }
}

/// Builds the text form of an array parameter: `{"a","b\\"c",NULL}`.
///
/// Works on UTF-8 bytes: an append of 100 events sends a few hundred kilobytes of JSON
/// through here, and byte-level escaping keeps that a small part of the append.
enum PostgresArrayLiteral {
    static func encode<S: Sequence>(_ elements: S) -> String where S.Element == String? {
        var out: [UInt8] = [UInt8(ascii: "{")]
        var first = true
        for element in elements {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            guard var element else {
                out.append(contentsOf: "NULL".utf8)
                continue
            }
            out.append(UInt8(ascii: "\""))
            element.withUTF8 { bytes in
                var start = 0
                for index in 0..<bytes.count where bytes[index] == 0x22 || bytes[index] == 0x5C {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
                    out.append(0x5C)
                    start = index
                }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<bytes.count]))
            }
            out.append(UInt8(ascii: "\""))
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }
}
