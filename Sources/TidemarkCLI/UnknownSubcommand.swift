import ArgumentParser
import Catalog

/// A misspelled subcommand, found before ArgumentParser's own message.
///
/// ArgumentParser reads a word that names no subcommand as an argument of the command above
/// it, so `tidemark job strat nightly --data-dir /x` fails on "Unknown option '--data-dir'",
/// which points nowhere near the typo. This walks the leading words down the command tree and
/// names the first that is no subcommand, with the nearest one that is.
struct UnknownSubcommand: Equatable {
    /// The commands before the unknown word: `["tidemark", "job"]`.
    let path: [String]
    let word: String
    /// The subcommand it most likely meant.
    let suggestion: String?
    /// The subcommands there are at that level.
    let known: [String]

    /// The first of `arguments` (before any option) that names no subcommand where one is
    /// expected. A command with a default subcommand (`tidemark server`) may take other words,
    /// so there only a near miss counts.
    static func find(in arguments: [String], root: any ParsableCommand.Type) -> UnknownSubcommand? {
        var command = root
        var path = [root._commandName]
        for word in arguments {
            // Options (and their values) belong to the command named so far; `help` is
            // ArgumentParser's own subcommand at every level.
            if word.hasPrefix("-") || word == "help" { return nil }
            let subcommands = command.configuration.subcommands
            guard !subcommands.isEmpty else { return nil }
            if let next = subcommands.first(where: { $0._commandName == word || $0.configuration.aliases.contains(word) }) {
                command = next
                path.append(word)
                continue
            }
            let known = subcommands.filter { $0.configuration.shouldDisplay }.map { $0._commandName }
            let suggestion = Spelling.nearest(to: word, among: known)
            if command.configuration.defaultSubcommand != nil && suggestion == nil { return nil }
            return UnknownSubcommand(path: path, word: word, suggestion: suggestion, known: known)
        }
        return nil
    }

    /// `unknown command 'strat', did you mean 'start'?` (or the commands there are), then the
    /// usage line of the command it was given to.
    var message: String {
        let command = path.joined(separator: " ")
        let hint = suggestion.map { ", did you mean '\($0)'?" } ?? " for '\(command)': use one of \(known.joined(separator: ", "))"
        return "Error: unknown command '\(word)'\(hint)\nUsage: \(command) <subcommand>\n  See '\(command) --help' for more information."
    }
}
