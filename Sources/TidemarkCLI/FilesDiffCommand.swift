import ArgumentParser
import CommandLineSupport
import Foundation
import JobManager

/// `tidemark files diff`: what was added, removed and changed under a guest path between two
/// restore points of one VM, from the metadata (size, modification time, mode, owner, link
/// target): after ransomware, the files it touched.
struct FilesDiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "What changed in a VM's guest files between two restore points: added (+), removed (-), changed (~).")
    @OptionGroup var volume: FilesVolumeOptions
    @Option(help: ArgumentHelp("The older restore point: its id, 'latest' or a time.", valueName: "POINT")) var from: String
    @Option(help: ArgumentHelp("The newer restore point (default: latest).", valueName: "POINT")) var to: String = "latest"
    @Option(help: "Only under this guest folder (default: the root).") var path: String = "/"
    @Flag(help: "One JSON object per change, one per line.") var json = false
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        for (name, value) in [("--from", from), ("--to", to)] where Self.choice(value) == nil {
            throw ValidationError("\(name) '\(value)' is neither 'latest', a restore point id nor a time (2026-11-30T22:00:00Z)")
        }
    }

    /// `latest`, a time, or a restore point id.
    static func choice(_ text: String) -> RestorePointChoice? {
        if text == "latest" { return .latest }
        if let time = RestorePointOptions.time(text) { return .at(time) }
        return text.isEmpty || text.contains(" ") ? nil : .id(text)
    }

    func run() async throws {
        let path = path
        let older = try await volume.withVolume(point: Self.choice(from)!, global: global) { volume in
            (volume.record.point.restorePointId, try volume.entries(under: path, recursive: true))
        }
        let newer = try await volume.withVolume(point: Self.choice(to)!, global: global) { volume in
            (volume.record.point.restorePointId, try volume.entries(under: path, recursive: true))
        }
        guard older.0 != newer.0 else {
            throw CommandFailure("--from and --to are the same restore point (\(older.0)): name two different ones")
        }
        let diff = GuestFileDiff(from: older.1, to: newer.1)
        var lines: [String] = []
        for entry in diff.added { lines.append(json ? Self.json("added", entry, []) : "+ \(entry.path)") }
        for entry in diff.removed { lines.append(json ? Self.json("removed", entry, []) : "- \(entry.path)") }
        for change in diff.changed {
            lines.append(
                json ? Self.json("changed", change.entry, change.what) : "~ \(change.entry.path) (\(change.what.joined(separator: ", ")))")
        }
        if !lines.isEmpty { print(lines.joined(separator: "\n")) }
        if !json {
            FileHandle.standardError.write(
                Data(
                    "\(older.0) → \(newer.0) under \(path): \(diff.added.count) added, \(diff.removed.count) removed, \(diff.changed.count) changed\n"
                        .utf8))
        }
    }

    static func json(_ change: String, _ entry: GuestFileEntry, _ what: [String]) -> String {
        var fields: [String: Any] = ["change": change, "path": entry.path, "kind": entry.kind.rawValue, "size": entry.size]
        if !what.isEmpty { fields["what"] = what }
        let data = (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
