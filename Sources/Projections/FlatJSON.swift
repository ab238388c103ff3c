import Foundation

/// The top-level fields of one JSON object, read without building the whole document.
///
/// Projections read a handful of fields from millions of small event objects; Foundation's
/// `JSONDecoder` spent over a third of a rebuild doing that. This scanner walks the UTF-8
/// once, remembers where each top-level value lies, and converts only the values asked for.
/// Nested objects and arrays are skipped over (strings inside them respected). Input that is
/// not a JSON object yields no fields, so a malformed event is left out, never a crash.
struct FlatJSON {
    private let bytes: [UInt8]
    /// Key → the value's byte range (strings: between the quotes; `hasEscapes` then says
    /// whether it needs unescaping).
    private var fields: [String: (range: Range<Int>, kind: Kind)] = [:]

    enum Kind {
        case string(hasEscapes: Bool)
        case number
        case literal
        case nested
    }

    init(_ text: String) {
        bytes = Array(text.utf8)
        var index = 0
        func skipSpace() {
            while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 {
                index += 1
            }
        }
        /// Moves past a string whose opening quote is at `index`; returns its content range.
        func scanString() -> (Range<Int>, Bool)? {
            let start = index + 1
            var escapes = false
            index += 1
            while index < bytes.count {
                switch bytes[index] {
                case 0x5C:  // backslash
                    escapes = true
                    index += 2
                case 0x22:
                    defer { index += 1 }
                    return (start..<index, escapes)
                default:
                    index += 1
                }
            }
            return nil
        }
        skipSpace()
        guard index < bytes.count, bytes[index] == 0x7B else { return }
        index += 1
        while true {
            skipSpace()
            guard index < bytes.count, bytes[index] == 0x22, let (keyRange, keyEscapes) = scanString() else { return }
            let key = Self.string(bytes, keyRange, escaped: keyEscapes)
            skipSpace()
            guard index < bytes.count, bytes[index] == 0x3A else { return }
            index += 1
            skipSpace()
            guard index < bytes.count else { return }
            let start = index
            switch bytes[index] {
            case 0x22:
                guard let (range, escaped) = scanString() else { return }
                fields[key] = (range, .string(hasEscapes: escaped))
            case 0x7B, 0x5B:
                var depth = 0
                while index < bytes.count {
                    let byte = bytes[index]
                    if byte == 0x22 {
                        guard scanString() != nil else { return }
                        continue
                    }
                    if byte == 0x7B || byte == 0x5B { depth += 1 }
                    if byte == 0x7D || byte == 0x5D {
                        depth -= 1
                        if depth == 0 {
                            index += 1
                            break
                        }
                    }
                    index += 1
                }
                fields[key] = (start..<index, .nested)
            default:
                while index < bytes.count, bytes[index] != 0x2C, bytes[index] != 0x7D, bytes[index] != 0x20 { index += 1 }
                let first = bytes[start]
                fields[key] = (start..<index, first == 0x74 || first == 0x66 || first == 0x6E ? .literal : .number)
            }
            skipSpace()
            guard index < bytes.count else { return }
            if bytes[index] == 0x2C {
                index += 1
                continue
            }
            return
        }
    }

    /// A string field; nil when absent, null or not a string.
    func string(_ key: String) -> String? {
        guard let field = fields[key], case .string(let escaped) = field.kind else { return nil }
        return Self.string(bytes, field.range, escaped: escaped)
    }

    /// An integer field; nil when absent, null, fractional or not a number.
    func int64(_ key: String) -> Int64? {
        guard let field = fields[key], case .number = field.kind else { return nil }
        var value: Int64 = 0
        var negative = false
        for (offset, byte) in bytes[field.range].enumerated() {
            if offset == 0, byte == 0x2D {
                negative = true
                continue
            }
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            let (multiplied, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (added, overflow2) = multiplied.addingReportingOverflow(Int64(byte - 0x30))
            guard !overflow1, !overflow2 else { return nil }
            value = added
        }
        return negative ? -value : value
    }

    /// The values an `integer` column holds.
    static let int32Range = Int64(Int32.min)...Int64(Int32.max)

    /// An integer field within `range`; nil outside it, so a column never refuses the row.
    func int64(_ key: String, in range: ClosedRange<Int64>) -> Int64? {
        int64(key).flatMap { range.contains($0) ? $0 : nil }
    }

    /// A `true` or `false` field; nil when absent, null or anything else.
    func bool(_ key: String) -> Bool? {
        guard let field = fields[key], case .literal = field.kind else { return nil }
        switch String(decoding: bytes[field.range], as: UTF8.self) {
        case "true": return true
        case "false": return false
        default: return nil
        }
    }

    /// A number field as a double.
    func double(_ key: String) -> Double? {
        guard let field = fields[key], case .number = field.kind else { return nil }
        return Double(String(decoding: bytes[field.range], as: UTF8.self))
    }

    /// A nested object or array, decoded by `JSONDecoder` (rare fields only).
    func decode<T: Decodable>(_ type: T.Type, _ key: String) -> T? {
        guard let field = fields[key], case .nested = field.kind else { return nil }
        return try? JSONDecoder().decode(type, from: Data(bytes[field.range]))
    }

    private static func string(_ bytes: [UInt8], _ range: Range<Int>, escaped: Bool) -> String {
        guard escaped else { return String(decoding: bytes[range], as: UTF8.self) }
        // Rare: let JSONDecoder unescape the quoted string.
        let quoted = [0x22] + Array(bytes[range]) + [0x22]
        return (try? JSONDecoder().decode(String.self, from: Data(quoted))) ?? String(decoding: bytes[range], as: UTF8.self)
    }
}
