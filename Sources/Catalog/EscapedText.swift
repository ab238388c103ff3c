/// Text from a user, made safe to echo in a message.
///
/// A refusal that quotes what it refused must not hand the terminal control sequences
/// (`ESC [ 2 J`) nor let a bidirectional override turn the rest of the line around: control
/// (Cc) and format (Cf) characters and line and paragraph separators are shown as `\u{...}`.
public enum EscapedText {
    public static func escaped(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            if isInvisible(scalar) {
                result += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// Control (Cc), format (Cf: bidi controls U+202A–U+202E and U+2066–U+2069, marks U+200E/F,
    /// zero-width characters) and the separators U+2028 (Zl) and U+2029 (Zp).
    public static func isInvisible(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator: return true
        default: return false
        }
    }
}
