/// Checks the name an administrator gives an object.
///
/// Names are how people and definition files refer to objects, so they must survive a
/// shell and a YAML file unquoted where possible: no control characters, no leading dash
/// (it would read as an option), no surrounding spaces. Uniqueness is case-insensitive.
public enum ObjectName {
    public static let maximumLength = 100

    public static func validate(_ name: String, kind: ObjectKind) throws(CatalogError) {
        let what = "the \(kind.displayName) name '\(name)'"
        guard !name.isEmpty else {
            throw CatalogError(.invalidValue, "the \(kind.displayName) name is empty: give it a name such as 'main-\(kind.category)'")
        }
        guard name.count <= maximumLength else {
            throw CatalogError(.invalidValue, "\(what) is \(name.count) characters long: use at most \(maximumLength)")
        }
        guard name.trimmingCharacters(in: .whitespaces) == name else {
            throw CatalogError(.invalidValue, "\(what) starts or ends with a space: remove it")
        }
        guard !name.hasPrefix("-") else {
            throw CatalogError(.invalidValue, "\(what) starts with '-', which reads as an option: start it with a letter or digit")
        }
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw CatalogError(.invalidValue, "\(what) contains a control character: use printable characters only")
        }
    }

    /// The key two names must not share.
    public static func key(_ name: String) -> String { name.lowercased() }
}

import Foundation
