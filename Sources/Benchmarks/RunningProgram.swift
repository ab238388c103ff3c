import Foundation

/// The running `tidemark` itself, to start it again or to look beside it. Not
/// `CommandLine.arguments[0]`: that is the word it was started by, which for an installed
/// `tidemark` found on PATH is no path at all.
enum RunningProgram {
    static var url: URL {
        (Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])).standardizedFileURL
    }
}
