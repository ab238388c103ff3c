import Ext4
import Foundation
import TestSupport
import Testing

/// libext2fs read through Tidemark's I/O manager, against file systems mke2fs builds from a
/// known tree: every kind of entry, times, owners, links, and the refusals.
@Suite struct Ext4FileSystemTests {
    /// A folder of files, an ext4 image built from it by `mke2fs -d`, and a reader over it.
    final class Image {
        let folder: URL
        let tree: URL
        let image: URL
        let size: Int64

        init(size: Int64 = 64 << 20, build: (URL) throws -> Void) throws {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("ext4-\(UUID().uuidString)")
            tree = folder.appendingPathComponent("tree")
            image = folder.appendingPathComponent("disk.img")
            self.size = size
            try FileManager.default.createDirectory(at: tree, withIntermediateDirectories: true)
            try build(tree)
            #expect(FileManager.default.createFile(atPath: image.path, contents: nil))
            let handle = try FileHandle(forWritingTo: image)
            try handle.truncate(atOffset: UInt64(size))
            try handle.close()
            let result = try run("/usr/sbin/mke2fs", ["-q", "-F", "-t", "ext4", "-L", "guest-root", "-d", tree.path, image.path])
            #expect(result.status == 0, "mke2fs: \(result.output)")
        }

        deinit { try? FileManager.default.removeItem(at: folder) }

        func open() throws -> Ext4FileSystem {
            let path = image.path
            return try Ext4FileSystem(size: size) { offset, buffer in
                let descriptor = Glibc.open(path, O_RDONLY)
                guard descriptor >= 0 else { throw CocoaError(.fileReadNoPermission) }
                defer { close(descriptor) }
                let got = pread(descriptor, buffer.baseAddress, buffer.count, off_t(offset))
                guard got == buffer.count else { throw CocoaError(.fileReadCorruptFile) }
            }
        }
    }

    static func run(_ program: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let result = try Program.run(program, arguments)
        return (result.status, result.output)
    }

    static func write(_ bytes: [UInt8], to url: URL, mode: Int = 0o644, modified: Date? = nil) throws {
        try Data(bytes).write(to: url)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: url.path)
        if let modified { try FileManager.default.setAttributes([.modificationDate: modified], ofItemAtPath: url.path) }
    }

    static func sample(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
    }

    @Test("files, folders, links, modes, owners and times read back as mke2fs wrote them")
    func readsATree() throws {
        let big = Self.sample(3 << 20, seed: 7)
        let longTarget = "/" + String(repeating: "deep-folder-name/", count: 6) + "target.conf"
        let when = Date(timeIntervalSince1970: 1_700_000_000)
        let image = try Image { tree in
            let fm = FileManager.default
            try fm.createDirectory(at: tree.appendingPathComponent("etc/nginx/sites"), withIntermediateDirectories: true)
            try Self.write(Array("user www-data;\n".utf8), to: tree.appendingPathComponent("etc/nginx/nginx.conf"), modified: when)
            try Self.write(Array("secret\n".utf8), to: tree.appendingPathComponent("etc/shadow"), mode: 0o640)
            try Self.write(big, to: tree.appendingPathComponent("data.bin"))
            try Self.write([], to: tree.appendingPathComponent("empty"))
            try fm.createSymbolicLink(
                atPath: tree.appendingPathComponent("etc/nginx/sites/default").path, withDestinationPath: "../nginx.conf")
            try fm.createSymbolicLink(atPath: tree.appendingPathComponent("long-link").path, withDestinationPath: longTarget)
            try fm.createSymbolicLink(atPath: tree.appendingPathComponent("etc-link").path, withDestinationPath: "/etc")
            chown(tree.appendingPathComponent("etc/shadow").path, 0, 42)
        }
        let fs = try image.open()
        #expect(fs.label == "guest-root")
        #expect(fs.blockSize >= 1024)

        let root = try fs.locate("/")
        #expect(root.path == "/" && root.metadata.kind == .directory)
        let names = try fs.children(of: root).map(\.path)
        #expect(names.contains("/etc") && names.contains("/data.bin") && names.contains("/lost+found"))

        let conf = try fs.locate("/etc/nginx/nginx.conf")
        #expect(conf.metadata.kind == .file && conf.metadata.size == 15 && conf.metadata.permissions == 0o644)
        #expect(conf.metadata.modified.seconds == 1_700_000_000)
        var text: [UInt8] = []
        try fs.read(conf.metadata.inode) { text += $0 }
        #expect(String(decoding: text, as: UTF8.self) == "user www-data;\n")

        let shadow = try fs.locate("/etc/shadow")
        #expect(shadow.metadata.permissions == 0o640 && shadow.metadata.gid == 42 && shadow.metadata.modeString == "-rw-r-----")

        var copied: [UInt8] = []
        try fs.read(try fs.locate("/data.bin").metadata.inode, piece: 100_000) { copied += $0 }
        #expect(copied == big)
        var none = 0
        try fs.read(try fs.locate("/empty").metadata.inode) { none += $0.count }
        #expect(none == 0)

        // Links: not followed at the end unless asked; followed in the middle, inside the guest.
        let link = try fs.locate("/etc/nginx/sites/default")
        #expect(link.metadata.kind == .symlink)
        #expect(try fs.linkTarget(link.metadata.inode) == "../nginx.conf")
        #expect(try fs.locate("/etc/nginx/sites/default", followLast: true).path == "/etc/nginx/nginx.conf")
        #expect(try fs.linkTarget(try fs.locate("/long-link").metadata.inode) == longTarget)
        #expect(try fs.locate("/etc-link/nginx/nginx.conf").path == "/etc/nginx/nginx.conf")
        #expect(try fs.locate("/../../etc/./nginx/../shadow").path == "/etc/shadow")

        var walked: [String] = []
        try fs.walk(try fs.locate("/etc")) {
            walked.append($0.path)
            return true
        }
        #expect(walked == ["/etc/nginx", "/etc/nginx/nginx.conf", "/etc/nginx/sites", "/etc/nginx/sites/default", "/etc/shadow"])
    }

    @Test("refusals: not ext4, a missing part named, a file used as a folder, a link loop, a failing reader, a short partition")
    func refusals() throws {
        #expect(throws: Ext4Error.self) {
            _ = try Ext4FileSystem(size: 1 << 20) { _, buffer in buffer.initializeMemory(as: UInt8.self, repeating: 0) }
        }
        do {
            _ = try Ext4FileSystem(size: 1 << 20) { _, buffer in buffer.initializeMemory(as: UInt8.self, repeating: 0) }
        } catch let error as Ext4Error {
            #expect(error.code == .notExt4)
        }

        let image = try Image { tree in
            try FileManager.default.createDirectory(at: tree.appendingPathComponent("etc"), withIntermediateDirectories: true)
            try Self.write(Array("x".utf8), to: tree.appendingPathComponent("etc/hosts"))
            try FileManager.default.createSymbolicLink(atPath: tree.appendingPathComponent("a").path, withDestinationPath: "b")
            try FileManager.default.createSymbolicLink(atPath: tree.appendingPathComponent("b").path, withDestinationPath: "/a")
        }
        let fs = try image.open()
        func code(_ body: () throws -> Void) -> Ext4Error? {
            do { try body() } catch let error as Ext4Error { return error } catch { return nil }
            return nil
        }
        let missing = code { _ = try fs.locate("/etc/nginx/nginx.conf") }
        #expect(missing?.code == .notFound)
        #expect(missing?.message.contains("/etc has no entry 'nginx'") == true)
        #expect(code { _ = try fs.locate("/etc/hosts/more") }?.code == .notADirectory)
        #expect(code { _ = try fs.locate("/a/x") }?.code == .tooManyLinks)
        #expect(code { _ = try fs.locate("/a", followLast: true) }?.code == .tooManyLinks)
        #expect(try fs.locate("/a").metadata.kind == .symlink)

        // The reader's own error comes back as it was thrown, and the file system stays usable.
        struct Unreadable: Error {}
        let path = image.image.path
        let failing = ReaderSwitch()
        let guarded = try Ext4FileSystem(size: image.size) { offset, buffer in
            if failing.on { throw Unreadable() }
            let descriptor = open(path, O_RDONLY)
            defer { close(descriptor) }
            #expect(pread(descriptor, buffer.baseAddress, buffer.count, off_t(offset)) == buffer.count)
        }
        let hosts = try guarded.locate("/etc/hosts")
        failing.on = true
        #expect(throws: Unreadable.self) { try guarded.read(hosts.metadata.inode) { _ in } }
        failing.on = false
        var bytes: [UInt8] = []
        try guarded.read(hosts.metadata.inode) { bytes += $0 }
        #expect(bytes == Array("x".utf8))

        // A partition shorter than the file system says: refused, never read past its end.
        let short = code {
            let fs = try Ext4FileSystem(size: 4 << 20) { offset, buffer in
                let descriptor = open(path, O_RDONLY)
                defer { close(descriptor) }
                _ = pread(descriptor, buffer.baseAddress, buffer.count, off_t(offset))
            }
            try fs.walk(try fs.locate("/")) { _ in true }
        }
        #expect(short?.code == .damaged)
    }

    final class ReaderSwitch: @unchecked Sendable {
        var on = false
    }
}
