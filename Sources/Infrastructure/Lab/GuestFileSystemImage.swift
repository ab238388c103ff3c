import Foundation

/// A lab disk that holds a real guest file system, as a VM's system disk does: an MBR
/// partition table with one Linux partition from 1 MiB to the end of the disk, formatted ext4
/// by e2fsprogs' `mke2fs` from a generated tree of directories and files (`-d` builds the file
/// system without mounting anything, so no root is needed). The tree is the same for the same
/// seed: configuration files, logs, a home folder with data files.
enum GuestFileSystemImage {
    /// Where the partition starts (sector 2048, as partitioning tools place it).
    static let partitionOffset: Int64 = 1 << 20
    /// The smallest disk that holds an ext4 partition and the tree.
    static let minimumDiskSize: Int64 = 8 << 20

    static func make(at path: String, size: Int64, seed: UInt64, scratch: String) throws {
        guard size >= minimumDiskSize else {
            throw InfrastructureError(.invalidInput, "a disk with a guest file system needs at least 8 MiB, not \(size) bytes")
        }
        guard size - partitionOffset <= Int64(UInt32.max) * 512 else {
            throw InfrastructureError(
                .invalidInput, "a disk with a guest file system holds at most 2 TiB (an MBR's limit), not \(size) bytes")
        }
        let tree = (scratch as NSString).appendingPathComponent("tree-\(seed)")
        try? FileManager.default.removeItem(atPath: tree)
        defer { try? FileManager.default.removeItem(atPath: tree) }
        try makeTree(at: tree, budget: (size - partitionOffset) / 4, seed: seed)
        try format(path, size: size, tree: tree, seed: seed)
    }

    /// Makes `path` a disk of `size` whose ext4 partition holds a copy of the folder `tree`.
    static func format(_ path: String, size: Int64, tree: String, seed: UInt64) throws {
        guard let mke2fs = ["/usr/sbin/mke2fs", "/sbin/mke2fs"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw InfrastructureError(.invalidInput, "mke2fs is not installed: apt-get install e2fsprogs (Tools/install-dependencies does)")
        }
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw InfrastructureError(.io, "cannot create the lab disk \(path)")
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: UInt64(size))
        try handle.close()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: mke2fs)
        process.arguments = [
            "-q", "-F", "-t", "ext4", "-L", "lab-root", "-d", tree, "-E", "offset=\(partitionOffset)", path,
            "\((size - partitionOffset) / 1024)k",
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw InfrastructureError(.io, "mke2fs could not make the lab disk's file system in \(path): \(text)")
        }
        try writePartitionTable(path, size: size, seed: seed)
    }

    /// An MBR with one Linux (0x83) partition from `partitionOffset` to the end.
    static func writePartitionTable(_ path: String, size: Int64, seed: UInt64) throws {
        var sector = [UInt8](repeating: 0, count: 512)
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: seed &* 2_654_435_761).littleEndian) { sector.replaceSubrange(440..<444, with: $0) }
        let first = UInt32(partitionOffset / 512)
        let count = UInt32((size - partitionOffset) / 512)
        var entry: [UInt8] = [0x00, 0xfe, 0xff, 0xff, 0x83, 0xfe, 0xff, 0xff]
        withUnsafeBytes(of: first.littleEndian) { entry.append(contentsOf: $0) }
        withUnsafeBytes(of: count.littleEndian) { entry.append(contentsOf: $0) }
        sector.replaceSubrange(446..<462, with: entry)
        sector[510] = 0x55
        sector[511] = 0xaa
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seek(toOffset: 0)
        try handle.write(contentsOf: Data(sector))
        try handle.close()
    }

    /// Configuration files, logs and data files, within about `budget` bytes.
    static func makeTree(at root: String, budget: Int64, seed: UInt64) throws {
        var generator = SplitMix64(seed: seed)
        func write(_ relative: String, _ data: Data) throws {
            let path = (root as NSString).appendingPathComponent(relative)
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            guard FileManager.default.createFile(atPath: path, contents: data) else {
                throw InfrastructureError(.io, "cannot write \(path) for a lab disk's file system")
            }
        }
        try write("etc/hostname", Data("lab-\(seed)\n".utf8))
        try write("etc/hosts", Data("127.0.0.1 localhost\n10.0.0.\(seed % 250 + 2) lab-\(seed)\n".utf8))
        try write(
            "etc/nginx/nginx.conf",
            Data("worker_processes auto;\nevents { worker_connections 1024; }\nhttp { server { listen 80; root /srv/www; } }\n".utf8))
        try write("etc/fstab", Data("LABEL=lab-root / ext4 defaults 0 1\n".utf8))
        var used: Int64 = 0
        for day in 1...7 {
            var log = ""
            for line in 0..<(40 + Int(generator.next() % 80)) {
                log +=
                    "2026-11-\(String(format: "%02d", day)) 0\(line % 10):00:00 lab-\(seed) service[\(line)]: request \(generator.next() % 100_000) served\n"
            }
            try write("var/log/app.log.\(day)", Data(log.utf8))
            used += Int64(log.utf8.count)
        }
        var index = 0
        while used < budget && index < 200 {
            let length = Int(min(budget - used, Int64(4_096 + Int(generator.next() % 60_000))))
            var bytes = [UInt8](repeating: 0, count: length)
            for position in stride(from: 0, to: length, by: 8) {
                withUnsafeBytes(of: generator.next()) { word in
                    for offset in 0..<min(8, length - position) { bytes[position + offset] = word[offset] }
                }
            }
            try write("home/admin/data/file-\(String(format: "%03d", index)).bin", Data(bytes))
            used += Int64(length)
            index += 1
        }
    }
}

/// A small, fast, seeded generator: the same seed, the same tree.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
