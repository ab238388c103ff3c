import CommandLineSupport
import Foundation
import PrivateCluster

/// govmomi's vCenter simulator built for Tidemark, as `bench vsphere` starts and stops it.
///
/// In a source folder the bench goes through `Tools/vcsim/vcsim`, which builds the simulator
/// from `Tools/vcsim/*.go` on first use. An installed `tidemark` has no source folder, so it
/// runs a built simulator (`tidemark-vcsim`) itself, doing what the script's `start` and
/// `stop` do: the same flags, the datastores under the simulator's folder, the URL read from
/// the file the simulator writes when its inventory is ready.
enum BenchSimulator {
    /// The script of a source folder, relative to that folder.
    static let script = "Tools/vcsim/vcsim"
    /// The built simulator's name (`Tools/vcsim/vcsim build` writes `.build/vcsim/tidemark-vcsim`).
    static let program = "tidemark-vcsim"

    /// How to run the simulator.
    enum Launcher: Equatable {
        /// `Tools/vcsim/vcsim start|stop` (a file beginning with `#!`).
        case script(String)
        /// The simulator itself.
        case program(String)
    }

    /// A simulator that was started: its folder (datastores, log, URL) and its SDK URL.
    struct Running {
        let folder: URL
        let url: String
        let process: Process?
    }

    /// `--vcsim` when given (the command checked that it is an executable file); else the
    /// script in the current folder or in a folder above the running `tidemark` (a source
    /// folder's `.build/…/tidemark` run from elsewhere); else `tidemark-vcsim` on PATH.
    /// Throws saying what is missing and how to get it.
    static func find(given: String?, executable: URL) throws -> Launcher {
        if let given { return isScript(given) ? .script(given) : .program(given) }
        var folders = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        var folder = executable.resolvingSymlinksInPath().deletingLastPathComponent()
        while folder.path != "/" {
            folders.append(folder)
            folder = folder.deletingLastPathComponent()
        }
        for folder in folders {
            let candidate = folder.appendingPathComponent(script).path
            if FileManager.default.isExecutableFile(atPath: candidate) { return .script(candidate) }
        }
        if let path = CommandLineSupport.executable(named: program) { return .program(path) }
        throw CommandFailure(
            "the vSphere bench needs govmomi's vCenter simulator built for Tidemark, and found neither \(script) (in the current folder or above \(executable.path)) nor \(program) on PATH: in Tidemark's source folder, run 'Tools/vcsim/vcsim build' (it installs Go and govmomi's source if missing) and put .build/vcsim/\(program) on PATH or give it with --vcsim PATH, or run the bench from the source folder"
        )
    }

    private static func isScript(_ path: String) -> Bool {
        guard let file = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? file.close() }
        return (try? file.read(upToCount: 2)) == Data("#!".utf8)
    }

    /// Starts a simulator in `folder` with `flags` (the simulator's own, such as `-vm 100`).
    static func start(_ launcher: Launcher, in folder: URL, _ flags: [String]) throws -> Running {
        switch launcher {
        case .script(let script):
            let output = try ToolRunner(runAsServerAccount: false).run("/bin/bash", [script, "start", folder.path] + flags)
            guard output.status == 0 else { throw CommandFailure("the simulator did not start: \(output.text)") }
            return Running(folder: folder, url: try url(in: folder), process: nil)
        case .program(let program):
            return try startProgram(program, in: folder, flags)
        }
    }

    /// Stops the simulator and removes its folder (its datastores with it).
    static func stop(_ launcher: Launcher, _ simulator: Running) {
        if case .script(let script) = launcher {
            _ = try? ToolRunner(runAsServerAccount: false).run("/bin/bash", [script, "stop", simulator.folder.path])
        } else if let process = simulator.process, process.isRunning {
            process.terminate()
            for _ in 0..<100 where process.isRunning { usleep(100_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        try? FileManager.default.removeItem(at: simulator.folder)
    }

    /// The script's `start`, in Swift: the datastores are temporary folders, kept in `folder`
    /// (TMPDIR) so that stopping removes them; ready when the URL file is written.
    private static func startProgram(_ program: String, in folder: URL, _ flags: [String]) throws -> Running {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let urlFile = folder.appendingPathComponent("url")
        let logFile = folder.appendingPathComponent("log")
        guard FileManager.default.createFile(atPath: logFile.path, contents: nil) else {
            throw CommandFailure("cannot create the simulator's log \(logFile.path)")
        }
        let log = try FileHandle(forWritingTo: logFile)
        defer { try? log.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = ["-manifest", folder.appendingPathComponent("manifest.json").path, "-url-file", urlFile.path] + flags
        var environment = ProcessInfo.processInfo.environment
        environment["TMPDIR"] = folder.path
        process.environment = environment
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let running = Running(folder: folder, url: "", process: process)
        for _ in 0..<1_200 {
            if let size = try? FileManager.default.attributesOfItem(atPath: urlFile.path)[.size] as? Int, size > 0 {
                return Running(folder: folder, url: try url(in: folder), process: process)
            }
            guard process.isRunning else {
                let text = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
                stop(.program(program), running)
                throw CommandFailure("the vCenter simulator (\(program)) stopped while starting: \(text.suffix(2_000))")
            }
            usleep(250_000)
        }
        stop(.program(program), running)
        throw CommandFailure("the vCenter simulator (\(program)) did not get ready within 5 minutes")
    }

    private static func url(in folder: URL) throws -> String {
        try String(contentsOf: folder.appendingPathComponent("url"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
