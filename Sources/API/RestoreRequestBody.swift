import Foundation
import Identity
import JobManager

/// A restore as the API takes it, turned into the ``RestoreOrder`` the command line builds:
///
///     {"vms": ["web-01"], "point": "latest", "reason": "ticket 4711",
///      "destination": {"kind": "vm", "server": "lab", "power_on": true}}
///
/// `destination.kind` is `vm`, `disk-file`, `disk-to-vm`, `export` or `guest-files`, with the
/// fields of `restore vm`, `restore disk`, `restore export` and `files restore`. Files are
/// written only inside a new folder of the request's own in the server's restore folder: a path
/// in a request is relative to it, so an API user cannot write over the server's own files.
struct RestoreRequestBody {
    /// `<data folder>/restores`; made on the first restore that writes files.
    let root: String

    /// `folder`: this request's own folder, which file paths are relative to.
    func order(_ body: inout JSONFields, folder: String) throws -> RestoreOrder {
        let vms = try body.strings("vms", maximum: 100) ?? []
        guard !vms.isEmpty else { throw APIProblem.badRequest("'vms' is missing: the VMs to restore, by name or id, such as [\"web-01\"]") }
        let point = try Self.point(&body)
        let reason = try body.string("reason")
        guard var destination = try body.object("destination") else {
            throw APIProblem.badRequest(
                "'destination' is missing: {\"kind\": \"vm\" | \"disk-file\" | \"disk-to-vm\" | \"export\" | \"guest-files\", ...}")
        }
        let kind = try destination.requiredString("kind", "vm, disk-file, disk-to-vm, export or guest-files")
        var raw = false
        let target: RestoreOrder.Destination
        switch kind {
        case "vm":
            target = .vm(try vmTarget(&destination))
        case "disk-file":
            try Self.one(vms, kind)
            let disk = try destination.requiredString("disk", "the disk's key (2000) or name (disk-2000)")
            let file = try path(
                try destination.requiredString("file", "a file name in the server's restore folder"), "destination.file", in: folder)
            target = .diskFile(disk: disk, path: file, replace: try destination.bool("replace"))
            raw = try destination.bool("raw")
        case "disk-to-vm":
            try Self.one(vms, kind)
            let disk = try destination.requiredString("disk", "the disk's key (2000) or name (disk-2000)")
            let vm = try destination.requiredString("vm", "the existing VM to write the disk into")
            // Its server defaults to the backed-up VM's.
            let into = RestoreOrder.VMTarget(
                server: try destination.string("server") ?? "", name: vm, powerOn: try destination.bool("power_on"), overwrite: true,
                powerOff: try destination.bool("power_off"))
            target = .diskToVM(disk: disk, target: into, targetDisk: try destination.integer("target_disk", in: 0...1_000_000))
        case "export":
            let into = try path(
                try destination.requiredString("folder", "a new folder in the server's restore folder"), "destination.folder", in: folder)
            target = .export(folder: into, replace: try destination.bool("replace"))
            raw = try destination.bool("raw")
        case "guest-files":
            try Self.one(vms, kind)
            let paths = try destination.strings("paths", maximum: 1000) ?? []
            guard !paths.isEmpty, paths.allSatisfy({ $0.hasPrefix("/") }) else {
                throw APIProblem.badRequest("'destination.paths' is a list of absolute paths in the guest, such as [\"/etc/hosts\"]")
            }
            let volume = GuestVolumeChoice(
                disk: try destination.string("disk"), partition: try destination.integer("partition", in: 1...128))
            let into = try path(
                try destination.requiredString("folder", "a new folder in the server's restore folder"), "destination.folder", in: folder)
            target = .guestFiles(paths: paths, volume: volume, folder: into, overwrite: try destination.bool("overwrite"))
        default:
            throw APIProblem.badRequest(
                "'destination.kind' is vm, disk-file, disk-to-vm, export or guest-files, not '\(String(kind.prefix(40)))'")
        }
        try destination.finish()
        try body.finish()
        return RestoreOrder(vms: vms, point: point, destination: target, reason: reason, raw: raw)
    }

    /// `point`: `latest` (the default) or a restore point's id; or `at`: the newest point at or
    /// before an RFC 3339 time.
    static func point(_ body: inout JSONFields) throws -> RestorePointChoice {
        let point = try body.string("point")
        let at = try body.string("at")
        if let at {
            guard point == nil else { throw APIProblem.badRequest("give 'point' or 'at', not both") }
            let fractional = ISO8601DateFormatter()
            fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            guard let date = ISO8601DateFormatter().date(from: at) ?? fractional.date(from: at) else {
                throw APIProblem.badRequest("'at' is a time such as 2026-12-01T22:00:00Z, not '\(String(at.prefix(40)))'")
            }
            return .at(date)
        }
        guard let point, point != "latest" else { return .latest }
        return .id(point)
    }

    static func one(_ vms: [String], _ kind: String) throws {
        guard vms.count == 1 else { throw APIProblem.badRequest("a \(kind) restore takes one VM in 'vms', not \(vms.count)") }
    }

    private func vmTarget(_ fields: inout JSONFields) throws -> RestoreOrder.VMTarget {
        RestoreOrder.VMTarget(
            server: try fields.requiredString("server", "the managed server to restore to"), name: try fields.string("name"),
            datacenter: try fields.string("datacenter"), folder: try fields.string("folder"), host: try fields.string("host"),
            cluster: try fields.string("cluster"), datastore: try fields.string("datastore"),
            networkMap: try fields.stringMap("network_map"), powerOn: try fields.bool("power_on"), keepMac: try fields.bool("keep_mac"),
            overwrite: try fields.bool("overwrite"), powerOff: try fields.bool("power_off"))
    }

    /// A path relative to the request's folder, joined to it: no `..`, `.` or empty parts, at
    /// most 16 deep.
    func path(_ relative: String, _ key: String, in folder: String) throws -> String {
        let parts = relative.split(separator: "/", omittingEmptySubsequences: false)
        guard !relative.hasPrefix("/"), parts.count <= 16,
            parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." && $0.utf8.count <= 255 })
        else {
            throw APIProblem.badRequest(
                "'\(key)' is a path inside the server's restore folder, such as web-01.img or exports/web-01: no leading '/', no '.' or '..' parts, at most 16 deep, parts of at most 255 bytes"
            )
        }
        return (folder as NSString).appendingPathComponent(relative)
    }
}
