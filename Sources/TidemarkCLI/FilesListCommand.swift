import ArgumentParser
import CommandLineSupport
import Ext4
import Foundation
import JobManager

/// `tidemark files list`: a folder of a restore point's guest file system, read from the
/// chunks.
struct FilesListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List a folder of a VM's guest file system as it was in a restore point (ext2/3/4, read from the chunks).")
    @OptionGroup var volume: FilesVolumeOptions
    @Option(help: "The guest folder or file (default: the root).") var path: String = "/"
    @Flag(name: [.customShort("l"), .long], help: "Mode, owner, size and modification time, as ls -l.") var long = false
    @Flag(name: [.customShort("R"), .long], help: "Everything under the folder, not only its entries.") var recursive = false
    @Flag(help: "One JSON object per entry, one per line.") var json = false
    @OptionGroup var pointOptions: RestorePointOptions
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let (path, recursive, long, json) = (path, recursive, long, json)
        let (name, count) = try await volume.withVolume(point: pointOptions.choice, global: global) { volume in
            let entries = try volume.entries(under: path, recursive: recursive)
            var output = ""
            output.reserveCapacity(entries.count * 64)
            for entry in entries {
                output += json ? Self.json(entry) : long ? Self.long(entry) : Self.short(entry, under: path, recursive: recursive)
                output += "\n"
            }
            FileHandle.standardOutput.write(Data(output.utf8))
            let note =
                volume.fileSystem.needsRecovery
                ? " (its journal holds writes not yet in place: the guest was running; what is shown is the file system without them)"
                : ""
            return ("\(volume.record.point.vmName ?? "") \(volume.record.point.restorePointId) \(volume.name)\(note)", entries.count)
        }
        if !json { FileHandle.standardError.write(Data("\(count) entries in \(name)\n".utf8)) }
    }

    static func short(_ entry: GuestFileEntry, under path: String, recursive: Bool) -> String {
        let name = recursive || entry.path == path ? entry.path : String(entry.path.split(separator: "/").last ?? "")
        switch entry.kind {
        case .directory: return name + "/"
        case .symlink: return "\(name) -> \(entry.linkTarget ?? "")"
        default: return name
        }
    }

    static func long(_ entry: GuestFileEntry) -> String {
        let metadata = Ext4Metadata.describe(kind: entry.kind, permissions: entry.permissions)
        let time = Date(timeIntervalSince1970: TimeInterval(entry.modifiedSeconds))
        let stamp = ISO8601DateFormatter.string(from: time, timeZone: .current, formatOptions: [.withInternetDateTime])
        let size = String(entry.size).leftPadded(to: 12)
        let owner = "\(entry.uid):\(entry.gid)".leftPadded(to: 11)
        let link = entry.linkTarget.map { " -> \($0)" } ?? ""
        return "\(metadata) \(owner) \(size) \(stamp) \(entry.path)\(link)"
    }

    static func json(_ entry: GuestFileEntry) -> String {
        var fields: [String: Any] = [
            "path": entry.path, "kind": entry.kind.rawValue, "mode": String(entry.permissions, radix: 8), "uid": entry.uid,
            "gid": entry.gid, "size": entry.size, "modified": entry.modifiedSeconds,
        ]
        if let target = entry.linkTarget { fields["target"] = target }
        let data = (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
