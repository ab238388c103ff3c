import Foundation

/// A Swift type that can be read from a column in text format.
///
/// Results come back in text format: it is what the server produces for every type,
/// and decoding straight from libpq's buffer avoids a copy per field.
public protocol PostgresDecodable: Sendable {
    /// Decodes the column's text; throws (or returns nil) when the text is not a value of this type.
    init?(postgresText bytes: UnsafeBufferPointer<UInt8>)
}

extension String: PostgresDecodable {
    public init?(postgresText bytes: UnsafeBufferPointer<UInt8>) {
        self = String(decoding: bytes, as: UTF8.self)
    }
}

/// Parses an optionally negative decimal integer without allocating.
@inline(__always)
func parseInteger(_ bytes: UnsafeBufferPointer<UInt8>) -> Int64? {
    guard !bytes.isEmpty else { return nil }
    var index = 0
    var negative = false
    if bytes[0] == 45 {
        negative = true
        index = 1
        guard bytes.count > 1 else { return nil }
    }
    var value: Int64 = 0
    while index < bytes.count {
        let byte = bytes[index]
        guard byte >= 48 && byte <= 57 else { return nil }
        let (multiplied, overflow1) = value.multipliedReportingOverflow(by: 10)
        let (added, overflow2) = multiplied.addingReportingOverflow(Int64(byte - 48))
        guard !overflow1 && !overflow2 else { return nil }
        value = added
        index += 1
    }
    return negative ? -value : value
}

extension Int64: PostgresDecodable {
    public init?(postgresText bytes: UnsafeBufferPointer<UInt8>) {
        guard let value = parseInteger(bytes) else { return nil }
        self = value
    }
}

extension Int: PostgresDecodable {
    public init?(postgresText bytes: UnsafeBufferPointer<UInt8>) {
        guard let value = parseInteger(bytes) else { return nil }
        self = Int(value)
    }
}

extension Int32: PostgresDecodable {
    public init?(postgresText bytes: UnsafeBufferPointer<UInt8>) {
        guard let value = parseInteger(bytes), let narrowed = Int32(exactly: value) else { return nil }
        self = narrowed
    }
}

extension Double: PostgresDecodable {
    public init?(postgresText bytes: UnsafeBufferPointer<UInt8>) {
        guard let value = Double(String(decoding: bytes, as: UTF8.self)) else { return nil }
        self = value
    }
}

extension Bool: PostgresDecodable {
    public init?(postgresText bytes: UnsafeBufferPointer<UInt8>) {
        guard bytes.count == 1 else { return nil }
        switch bytes[0] {
        case UInt8(ascii: "t"): self = true
        case UInt8(ascii: "f"): self = false
        default: return nil
        }
    }
}

/// The value of one hexadecimal digit, either case.
@inline(__always)
func hexNibble(_ byte: UInt8) -> UInt8? {
    switch byte {
    case 48...57: return byte - 48
    case 97...102: return byte - 87
    case 65...70: return byte - 55
    default: return nil
    }
}

extension UUID: PostgresDecodable {
    public init?(postgresText bytes: UnsafeBufferPointer<UInt8>) {
        // 8-4-4-4-12 lowercase hex, as the server prints it.
        guard bytes.count == 36 else { return nil }
        var raw = [UInt8](repeating: 0, count: 16)
        var out = 0
        var index = 0
        while index < 36 {
            if index == 8 || index == 13 || index == 18 || index == 23 {
                guard bytes[index] == 45 else { return nil }
                index += 1
                continue
            }
            guard let high = hexNibble(bytes[index]), let low = hexNibble(bytes[index + 1]) else { return nil }
            raw[out] = high << 4 | low
            out += 1
            index += 2
        }
        self = UUID(
            uuid: (
                raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7],
                raw[8], raw[9], raw[10], raw[11], raw[12], raw[13], raw[14], raw[15]
            ))
    }
}

extension Date: PostgresDecodable {
    public init?(postgresText bytes: UnsafeBufferPointer<UInt8>) {
        guard let date = PostgresTimestamp.parse(bytes) else { return nil }
        self = date
    }
}

extension Data: PostgresDecodable {
    /// Decodes `bytea` in the server's hex output form (`\x0a1b...`).
    public init?(postgresText bytes: UnsafeBufferPointer<UInt8>) {
        guard bytes.count >= 2, bytes[0] == 92, bytes[1] == 120, bytes.count % 2 == 0 else { return nil }
        var data = Data(capacity: (bytes.count - 2) / 2)
        var index = 2
        while index < bytes.count {
            guard let high = hexNibble(bytes[index]), let low = hexNibble(bytes[index + 1]) else { return nil }
            data.append(high << 4 | low)
            index += 2
        }
        self = data
    }
}

extension PostgresJSON: PostgresDecodable {
    public init?(postgresText bytes: UnsafeBufferPointer<UInt8>) {
        self.init(text: String(decoding: bytes, as: UTF8.self))
    }
}

/// An element type whose array text never needs quotes (numbers, booleans, uuids), so a
/// one-dimensional array of it decodes by splitting on commas.
public protocol PostgresUnquotedArrayElement: PostgresDecodable {}

extension Int: PostgresUnquotedArrayElement {}
extension Int64: PostgresUnquotedArrayElement {}
extension Int32: PostgresUnquotedArrayElement {}
extension Double: PostgresUnquotedArrayElement {}
extension Bool: PostgresUnquotedArrayElement {}
extension UUID: PostgresUnquotedArrayElement {}

extension Array: PostgresDecodable where Element: PostgresUnquotedArrayElement {
    /// Decodes a one-dimensional array without NULLs.
    public init?(postgresText bytes: UnsafeBufferPointer<UInt8>) {
        guard bytes.count >= 2, bytes.first == 123, bytes.last == 125 else { return nil }
        var elements: [Element] = []
        var start = 1
        let end = bytes.count - 1
        if end == 1 {
            self = []
            return
        }
        var index = 1
        while index <= end {
            if index == end || bytes[index] == 44 {
                let slice = UnsafeBufferPointer(rebasing: bytes[start..<index])
                guard let element = Element(postgresText: slice) else { return nil }
                elements.append(element)
                start = index + 1
            }
            index += 1
        }
        self = elements
    }
}
