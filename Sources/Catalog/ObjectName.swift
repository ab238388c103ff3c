import Foundation

/// Checks the name an administrator gives an object.
///
/// Names are how people and definition files refer to objects, so they must survive a
/// shell and a YAML file unquoted where possible: no control characters, no leading dash
/// (it would read as an option), no surrounding spaces. Uniqueness is case-insensitive.
///
/// Lengths count Unicode scalars (so bytes too), not characters: one "character" can carry
/// any number of combining marks, so a limit in characters bounds nothing. Format characters
/// (bidirectional overrides such as U+202E, zero-width characters) and line separators are
/// refused: they make a name read differently from what it is (`nightly\u{202E}gpj.exe`).
public enum ObjectName {
    /// Most Unicode scalars in a name, which also bounds it to 400 bytes of UTF-8 (a scalar
    /// takes at most 4).
    public static let maximumLength = 100

    public static func validate(_ name: String, kind: ObjectKind) throws(CatalogError) {
        guard !name.isEmpty else {
            throw CatalogError(.invalidValue, "the \(kind.displayName) name is empty: give it a name such as 'main-\(kind.category)'")
        }
        let shown = name.unicodeScalars.count > 60 ? String(name.unicodeScalars.prefix(60)) + "..." : name
        let what = "the \(kind.displayName) name '\(EscapedText.escaped(shown))'"
        let scalars = name.unicodeScalars.count
        guard scalars <= maximumLength else {
            throw CatalogError(.invalidValue, "\(what) is \(scalars) characters (Unicode scalars) long: use at most \(maximumLength)")
        }
        guard name.trimmingCharacters(in: .whitespaces) == name else {
            throw CatalogError(.invalidValue, "\(what) starts or ends with a space: remove it")
        }
        guard !name.hasPrefix("-") else {
            throw CatalogError(.invalidValue, "\(what) starts with '-', which reads as an option: start it with a letter or digit")
        }
        if let bad = name.unicodeScalars.first(where: EscapedText.isInvisible) {
            let kindOfCharacter =
                bad.properties.generalCategory == .control ? "a control character" : "an invisible format or separator character"
            throw CatalogError(
                .invalidValue,
                "\(what) contains \(kindOfCharacter) (U+\(String(bad.value, radix: 16, uppercase: true))): use printable characters only")
        }
    }

    /// The key two names must not share.
    public static func key(_ name: String) -> String { name.lowercased() }
}
