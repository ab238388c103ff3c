import Foundation

/// What `mutateFiles` did to one VM's guest file system, as guest paths.
public struct LabFileChanges: Sendable, Equatable, Codable {
    public var changed: [String] = []
    public var added: [String] = []
    public var removed: [String] = []
}

extension LabAdapter {
    /// Changes, adds and deletes files in each VM's guest file system (the ext4 partition
    /// `lab create --guest-files` made), as a guest's users would between two backups:
    /// `/etc/hosts` and a data file rewritten, a data file deleted, a new folder with a file.
    ///
    /// e2fsprogs' `debugfs -w` edits a scratch copy of the disk (no mount, no root); the 64
    /// KiB blocks that came out different are then written through the lab's own write path,
    /// so live snapshots keep their view and changed-block answers include them. Returns the
    /// changes by VM name; a VM without a guest file system is left alone.
    @discardableResult
    public func mutateFiles(seed: UInt64 = 7) throws -> [String: LabFileChanges] {
        guard let debugfs = ["/usr/sbin/debugfs", "/sbin/debugfs"].first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else {
            throw InfrastructureError(
                .invalidInput, "debugfs is not installed: apt-get install e2fsprogs (Tools/install-dependencies does)")
        }
        let layout = store.layout
        return try store.update { state in
            var changes: [String: LabFileChanges] = [:]
            for machine in state.inventory.virtualMachines {
                guard let disk = machine.disks.first else { continue }
                let name = LabLayout.diskName(vm: machine.id, key: disk.key)
                let path = layout.disk(name)
                guard try Self.holdsGuestFileSystem(path) else { continue }
                let round = UInt64(state.history(name).writes.count)
                let scratch = layout.root + "/mutate-\(name).img"
                try? FileManager.default.removeItem(atPath: scratch)
                try FileManager.default.copyItem(atPath: path, toPath: scratch)
                defer { try? FileManager.default.removeItem(atPath: scratch) }
                let change = try Self.edit(scratch, debugfs: debugfs, seed: seed &+ round &* 131, round: round, scratch: layout.root)
                let blocks = try Self.differingBlocks(path, scratch)
                guard !blocks.isEmpty else { continue }
                let live = (state.snapshots[machine.id] ?? []).map(\.info.id)
                let source = open(scratch, O_RDONLY | O_CLOEXEC)
                guard source >= 0 else { throw InfrastructureError(.io, "cannot read \(scratch)") }
                defer { close(source) }
                var buffer = [UInt8](repeating: 0, count: LabState.blockSize)
                try write(blocks, to: name, preservingFor: live, layout: layout) { block in
                    try buffer.withUnsafeMutableBytes { bytes in
                        try readFully(source, path: scratch, size: 0, at: Int64(block) * Int64(LabState.blockSize), into: bytes)
                    }
                    return buffer
                }
                var history = state.history(name)
                history.writes.append(LabWrite(epoch: history.epoch, blocks: blocks))
                state.disks[name] = history
                changes[machine.name] = change
            }
            return changes
        }
    }

    /// Replaces a VM's disk with one whose ext4 partition holds a copy of the folder `tree`
    /// (benches and drills that need a guest tree of their own: many files, one big file).
    public func replaceDisk(vm: String, key: Int, withFileSystemOf tree: String) throws {
        try store.update { state in
            guard let machine = state.inventory.virtualMachines.first(where: { $0.id == vm || $0.name == vm }),
                let disk = machine.disks.first(where: { $0.key == key })
            else {
                throw InfrastructureError(.invalidInput, "the lab has no disk \(key) on a VM \(vm)")
            }
            let path = store.layout.disk(LabLayout.diskName(vm: machine.id, key: key))
            try? FileManager.default.removeItem(atPath: path)
            try GuestFileSystemImage.format(path, size: disk.capacity, tree: tree, seed: UInt64(key))
        }
    }

    /// An MBR whose first partition starts where the lab puts it and holds an ext2/3/4
    /// superblock.
    static func holdsGuestFileSystem(_ path: String) throws -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw InfrastructureError(.io, "cannot read \(path)") }
        defer { try? handle.close() }
        let sector = try handle.read(upToCount: 512) ?? Data()
        guard sector.count == 512, sector[510] == 0x55, sector[511] == 0xaa, sector[446 + 4] == 0x83 else { return false }
        try handle.seek(toOffset: UInt64(GuestFileSystemImage.partitionOffset) + 1080)
        let magic = try handle.read(upToCount: 2) ?? Data()
        return magic == Data([0x53, 0xef])
    }

    /// Runs the edits on `image` with debugfs; refused with debugfs's own words when any
    /// command failed.
    static func edit(_ image: String, debugfs: String, seed: UInt64, round: UInt64, scratch: String) throws -> LabFileChanges {
        let target = "\(image)?offset=\(GuestFileSystemImage.partitionOffset)"
        let listing = try run(debugfs, ["-R", "ls -p /home/admin/data", target]).output
        let dataFiles = listing.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: "/", omittingEmptySubsequences: false)
            guard fields.count >= 6, fields[2].hasPrefix("100") else { return nil }
            return "/home/admin/data/" + fields[5]
        }.sorted()
        var generator = SplitMix64(seed: seed)
        var picks = dataFiles
        picks.shuffle(using: &generator)
        var change = LabFileChanges()
        var commands: [String] = []
        var locals: [String] = []
        func local(_ bytes: Data) throws -> String {
            let path = scratch + "/mutate-\(locals.count)-\(UUID().uuidString).tmp"
            guard FileManager.default.createFile(atPath: path, contents: bytes) else {
                throw InfrastructureError(.io, "cannot write \(path)")
            }
            locals.append(path)
            return path
        }
        defer { for path in locals { try? FileManager.default.removeItem(atPath: path) } }
        func random(_ count: Int) -> Data { Data((0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }) }

        let hosts =
            "127.0.0.1 localhost\n10.1.\(round % 250).\(seed % 250 + 2) lab-\(seed)\n10.2.0.\(round % 250 + 1) added-host-\(round)\n"
        commands += ["rm /etc/hosts", "write \(try local(Data(hosts.utf8))) /etc/hosts"]
        change.changed.append("/etc/hosts")
        if let rewritten = picks.first {
            commands += ["rm \(rewritten)", "write \(try local(random(8_192 + Int(generator.next() % 30_000)))) \(rewritten)"]
            change.changed.append(rewritten)
        }
        if picks.count > 1 {
            commands.append("rm \(picks[1])")
            change.removed.append(picks[1])
        }
        let folder = "/home/admin/uploads-\(round)"
        commands += ["mkdir \(folder)", "write \(try local(random(20_000))) \(folder)/report.bin"]
        change.added += [folder, folder + "/report.bin"]
        let script = try local(Data((commands.joined(separator: "\n") + "\n").utf8))
        let result = try run(debugfs, ["-w", "-f", script, target])
        let problems = result.errors.split(separator: "\n").filter { !$0.hasPrefix("debugfs ") && !$0.isEmpty }
        guard result.status == 0, problems.isEmpty else {
            throw InfrastructureError(.io, "debugfs could not change the guest files of \(image): \(problems.joined(separator: "; "))")
        }
        return change
    }

    /// The indexes of the 64 KiB blocks in which two equally long files differ.
    static func differingBlocks(_ left: String, _ right: String) throws -> [Int] {
        guard let a = FileHandle(forReadingAtPath: left), let b = FileHandle(forReadingAtPath: right) else {
            throw InfrastructureError(.io, "cannot compare \(left) with \(right)")
        }
        defer {
            try? a.close()
            try? b.close()
        }
        var blocks: [Int] = []
        var index = 0
        while true {
            let x = try a.read(upToCount: LabState.blockSize) ?? Data()
            let y = try b.read(upToCount: LabState.blockSize) ?? Data()
            if x.isEmpty && y.isEmpty { return blocks }
            if x != y { blocks.append(index) }
            index += 1
        }
    }

    static func run(_ program: String, _ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        // Errors to a file, output through a pipe: reading one pipe to its end while the
        // program blocks on a full other one would never end.
        let errorsFile = FileManager.default.temporaryDirectory.appendingPathComponent("tidemark-debugfs-\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: errorsFile.path, contents: nil) else {
            throw InfrastructureError(.io, "cannot write \(errorsFile.path)")
        }
        defer { try? FileManager.default.removeItem(at: errorsFile) }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: errorsFile)
        try process.run()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let errorData = (try? Data(contentsOf: errorsFile)) ?? Data()
        return (process.terminationStatus, String(decoding: outputData, as: UTF8.self), String(decoding: errorData, as: UTF8.self))
    }
}
