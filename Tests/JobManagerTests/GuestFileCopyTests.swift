import Ext4
import Foundation
import Testing

@testable import JobManager

/// The file restore's copy against what a hostile or damaged guest file system can hold: a
/// folder linked back into itself, a setuid program, a huge sparse file.
@Suite("Guest file copy: hostile trees")
struct GuestFileCopyTests {
    static func run(_ program: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(program) \(arguments)")
    }

    @Test("a folder linked into itself is copied once, setuid and setgid are dropped, a sparse file stays sparse")
    func hostileTree() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("copy-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let tree = folder.appendingPathComponent("tree")
        try FileManager.default.createDirectory(at: tree.appendingPathComponent("etc/nginx"), withIntermediateDirectories: true)
        try Data("127.0.0.1 localhost\n".utf8).write(to: tree.appendingPathComponent("etc/hosts"))
        let program = tree.appendingPathComponent("etc/su")
        try Data("#!/bin/sh\n".utf8).write(to: program)
        try FileManager.default.setAttributes([.posixPermissions: 0o6755], ofItemAtPath: program.path)
        // 64 MiB with 4 KiB of data at its end: a sparse file.
        let sparse = tree.appendingPathComponent("sparse.img")
        #expect(FileManager.default.createFile(atPath: sparse.path, contents: nil))
        let handle = try FileHandle(forWritingTo: sparse)
        try handle.seek(toOffset: (64 << 20) - 4_096)
        try handle.write(contentsOf: Data(repeating: 0x5a, count: 4_096))
        try handle.close()
        let image = folder.appendingPathComponent("disk.img").path
        #expect(FileManager.default.createFile(atPath: image, contents: nil))
        try FileHandle(forWritingAtPath: image)!.truncate(atOffset: 32 << 20)
        try Self.run("/usr/sbin/mke2fs", ["-q", "-F", "-t", "ext4", "-d", tree.path, image])
        // A second name for /etc inside /etc/nginx: the tree now leads back into itself.
        try Self.run("/usr/sbin/debugfs", ["-w", "-R", "ln /etc /etc/nginx/back", image])

        let fileSystem = try Ext4FileSystem(size: 32 << 20) { offset, buffer in
            let descriptor = open(image, O_RDONLY)
            defer { close(descriptor) }
            guard pread(descriptor, buffer.baseAddress, buffer.count, off_t(offset)) == buffer.count else {
                throw CocoaError(.fileReadUnknown)
            }
        }
        var walked: [String] = []
        try fileSystem.walk(try fileSystem.locate("/etc")) {
            walked.append($0.path)
            return true
        }
        // /etc/nginx/back is listed, and not entered: it is /etc again.
        #expect(walked.contains("/etc/nginx/back") && walked.filter { $0.hasSuffix("/hosts") } == ["/etc/hosts"], "\(walked)")

        let target = folder.appendingPathComponent("restored").path
        var copy = GuestFileCopy(fileSystem: fileSystem, folder: target, overwrite: false)
        try copy.copy(["/etc", "/sparse.img"])
        #expect(copy.summary.skipped.contains { $0.contains("a folder met twice") }, "\(copy.summary.skipped)")
        let mode = try FileManager.default.attributesOfItem(atPath: target + "/etc/su")[.posixPermissions] as? Int
        #expect(mode == 0o755)
        var info = stat()
        #expect(stat(target + "/sparse.img", &info) == 0)
        #expect(info.st_size == 64 << 20)
        #expect(Int(info.st_blocks) * 512 < 1 << 20, "\(info.st_blocks) blocks allocated")
        let restored = try Data(contentsOf: URL(fileURLWithPath: target + "/sparse.img"))
        #expect(restored == (try Data(contentsOf: sparse)))
    }
}
