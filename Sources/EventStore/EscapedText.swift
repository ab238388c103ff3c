/// Text from a caller, made safe to echo in an error message.
///
/// A refusal that quotes what it refused must not hand a terminal its control sequences
/// (`ESC [ 2 J`), nor let a bidirectional override turn the rest of the line around; those
/// scalars are shown as `\u{...}` instead.
enum EscapedText {
    static func escaped(_ text: String) -> String {
        var result = ""
        result.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            if isInvisible(scalar) {
                result += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// Control (Cc), format (Cf: bidi controls, zero-width characters) and the line and
    /// paragraph separators (Zl, Zp).
    static func isInvisible(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator: return true
        default: return false
        }
    }
}
