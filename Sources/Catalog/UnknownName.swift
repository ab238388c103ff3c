/// The one wording, in every command, for a name that names nothing: what was asked for, the
/// names there are, and the command that lists them —
/// `no job is named 'nightly' (known: weekly, sql): see 'tidemark job list'`.
public enum UnknownName {
    /// At most this many names are listed; the list command shows the rest.
    public static let namesShown = 10

    /// - Parameters:
    ///   - noun: what was looked for: "job", "managed server", "session".
    ///   - relation: how the name relates: "is named", "was named", "has an id starting with".
    ///   - when: a moment the lookup was about (`--as-of`), said after the name.
    ///   - label: what the listed names are: "known", "known then", "latest".
    public static func message(
        _ noun: String, _ name: String, relation: String = "is named", when: String? = nil, known: [String], label: String = "known",
        listCommand: String
    ) -> String {
        let names = known.sorted { $0.lowercased() < $1.lowercased() }
        var list = names.isEmpty ? "there are none" : "\(label): " + names.prefix(namesShown).joined(separator: ", ")
        if names.count > namesShown { list += ", ... (\(names.count) in all)" }
        return "no \(noun) \(relation) '\(EscapedText.escaped(name))'\(when.map { " \($0)" } ?? "") (\(list)): see '\(listCommand)'"
    }
}

extension CatalogError {
    /// Not found: no live object of `kind` has this name (case-insensitive).
    public static func unknown(_ kind: ObjectKind, named name: String, known: [String], when: String? = nil) -> CatalogError {
        CatalogError(
            .notFound,
            UnknownName.message(
                kind.displayName, name, relation: when == nil ? "is named" : "was named", when: when, known: known,
                label: when == nil ? "known" : "known then", listCommand: "tidemark \(kind.category) list"))
    }
}
