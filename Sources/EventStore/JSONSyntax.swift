/// Checks that text is one JSON object, as PostgreSQL's `jsonb` will accept it.
///
/// It only checks the syntax, without building values: every appended event passes
/// through here, and a full parse would cost more than the rest of the client's work
/// for the append. The server parses the data again when it stores it.
enum JSONSyntax {
    /// Deeper nesting than this is refused (the server's own limit is higher, but no
    /// event needs it, and the check recurses).
    static let maximumDepth = 200

    /// nil when `text` is a JSON object; otherwise what is wrong and at which byte.
    static func problem(in text: String) -> String? {
        var text = text
        return text.withUTF8 { bytes in
            var parser = Parser(bytes: bytes)
            parser.skipWhitespace()
            guard parser.peek == UInt8(ascii: "{") else {
                return parser.atEnd ? "it is empty" : "it must be a JSON object ({...}), but it starts with \(parser.describeCurrent)"
            }
            if let problem = parser.value(depth: 0) { return problem }
            parser.skipWhitespace()
            return parser.atEnd ? nil : "unexpected \(parser.describeCurrent) after the object"
        }
    }

    private struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        var atEnd: Bool { index >= bytes.count }
        var peek: UInt8? { atEnd ? nil : bytes[index] }

        var describeCurrent: String {
            guard let byte = peek else { return "the end of the text" }
            let shown = byte >= 0x20 && byte < 0x7F ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
            return "\(shown) at byte \(index)"
        }

        mutating func skipWhitespace() {
            while let byte = peek, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { index += 1 }
        }

        mutating func value(depth: Int) -> String? {
            guard depth < JSONSyntax.maximumDepth else { return "nesting deeper than \(JSONSyntax.maximumDepth) levels at byte \(index)" }
            skipWhitespace()
            guard let byte = peek else { return "a value is missing at the end of the text" }
            switch byte {
            case UInt8(ascii: "{"): return object(depth: depth)
            case UInt8(ascii: "["): return array(depth: depth)
            case UInt8(ascii: "\""): return string()
            case UInt8(ascii: "t"): return literal("true")
            case UInt8(ascii: "f"): return literal("false")
            case UInt8(ascii: "n"): return literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return number()
            default: return "unexpected \(describeCurrent)"
            }
        }

        mutating func object(depth: Int) -> String? {
            index += 1
            skipWhitespace()
            if peek == UInt8(ascii: "}") {
                index += 1
                return nil
            }
            while true {
                skipWhitespace()
                guard peek == UInt8(ascii: "\"") else { return "expected a quoted key, found \(describeCurrent)" }
                if let problem = string() { return problem }
                skipWhitespace()
                guard peek == UInt8(ascii: ":") else { return "expected ':' after a key, found \(describeCurrent)" }
                index += 1
                if let problem = value(depth: depth + 1) { return problem }
                skipWhitespace()
                switch peek {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "}"):
                    index += 1
                    return nil
                default: return "expected ',' or '}' in an object, found \(describeCurrent)"
                }
            }
        }

        mutating func array(depth: Int) -> String? {
            index += 1
            skipWhitespace()
            if peek == UInt8(ascii: "]") {
                index += 1
                return nil
            }
            while true {
                if let problem = value(depth: depth + 1) { return problem }
                skipWhitespace()
                switch peek {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "]"):
                    index += 1
                    return nil
                default: return "expected ',' or ']' in an array, found \(describeCurrent)"
                }
            }
        }

        mutating func string() -> String? {
            let start = index
            index += 1
            while let byte = peek {
                index += 1
                switch byte {
                case UInt8(ascii: "\""): return nil
                case UInt8(ascii: "\\"):
                    guard let escaped = peek else { return "the string at byte \(start) is not closed" }
                    index += 1
                    switch escaped {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                        UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        continue
                    case UInt8(ascii: "u"):
                        guard index + 4 <= bytes.count else { return "a \\u escape is cut short at byte \(index - 2)" }
                        var code: UInt32 = 0
                        for _ in 0..<4 {
                            guard let digit = hexValue(bytes[index]) else { return "a \\u escape has a non-hex digit at byte \(index)" }
                            code = code << 4 | digit
                            index += 1
                        }
                        if code == 0 { return "\\u0000 at byte \(index - 6): PostgreSQL's jsonb cannot store it" }
                        if (0xDC00...0xDFFF).contains(code) {
                            return "a lone low surrogate \\u\(String(code, radix: 16)) at byte \(index - 6)"
                        }
                        if (0xD800...0xDBFF).contains(code) {
                            // A high surrogate must be followed at once by a low one.
                            guard index + 6 <= bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                            else { return "a high surrogate \\u\(String(code, radix: 16)) at byte \(index - 6) without its low surrogate" }
                            var low: UInt32 = 0
                            for offset in 2..<6 {
                                guard let digit = hexValue(bytes[index + offset]) else {
                                    return "a \\u escape has a non-hex digit at byte \(index + offset)"
                                }
                                low = low << 4 | digit
                            }
                            guard (0xDC00...0xDFFF).contains(low) else {
                                return "a high surrogate \\u\(String(code, radix: 16)) at byte \(index - 6) without its low surrogate"
                            }
                            index += 6
                        }
                    default:
                        return "unknown escape '\\\(Character(Unicode.Scalar(escaped)))' at byte \(index - 2)"
                    }
                case 0..<0x20:
                    return "a control character (0x\(String(byte, radix: 16))) inside a string at byte \(index - 1): escape it"
                default:
                    continue
                }
            }
            return "the string at byte \(start) is not closed"
        }

        mutating func literal(_ word: StaticString) -> String? {
            let start = index
            let expected = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
            guard index + expected.count <= bytes.count else { return "unexpected \(describeCurrent)" }
            for byte in expected {
                guard bytes[index] == byte else {
                    index = start
                    return "unexpected \(describeCurrent)"
                }
                index += 1
            }
            return nil
        }

        /// Also checks PostgreSQL's numeric range: at most 131,072 digits before the
        /// decimal point and 16,383 after it.
        mutating func number() -> String? {
            let start = index
            if peek == UInt8(ascii: "-") { index += 1 }
            guard let first = peek, isDigit(first) else { return "a number at byte \(start) has no digits" }
            index += 1
            var integerDigits = first == UInt8(ascii: "0") ? 0 : 1
            if first != UInt8(ascii: "0") {
                while let byte = peek, isDigit(byte) {
                    index += 1
                    integerDigits += 1
                }
            }
            var fractionDigits = 0
            if peek == UInt8(ascii: ".") {
                index += 1
                guard let byte = peek, isDigit(byte) else { return "a number at byte \(start) has no digits after '.'" }
                while let byte = peek, isDigit(byte) {
                    index += 1
                    fractionDigits += 1
                }
            }
            var exponent = 0
            if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
                index += 1
                var negative = false
                if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") {
                    negative = peek == UInt8(ascii: "-")
                    index += 1
                }
                guard let byte = peek, isDigit(byte) else { return "a number at byte \(start) has no exponent digits" }
                while let byte = peek, isDigit(byte) {
                    exponent = min(exponent * 10 + Int(byte - 0x30), 1_000_000_000)
                    index += 1
                }
                if negative { exponent = -exponent }
            }
            if (integerDigits > 0 && integerDigits - 1 + exponent >= 131_072) || fractionDigits - exponent > 16_383 {
                return "the number at byte \(start) is outside PostgreSQL's numeric range"
            }
            return nil
        }

        private func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

        private func hexValue(_ byte: UInt8) -> UInt32? {
            switch byte {
            case 0x30...0x39: return UInt32(byte - 0x30)
            case 0x61...0x66: return UInt32(byte - 0x57)
            case 0x41...0x46: return UInt32(byte - 0x37)
            default: return nil
            }
        }
    }
}
