import Foundation
import Postgres

/// Tidemark's own PostgreSQL cluster inside its data folder: the embedded default.
///
/// With no database configured, one command on a fresh machine must run a real job, so
/// Tidemark creates a cluster with `initdb`, starts it with `pg_ctl`, and reuses it next
/// time. It listens on a Unix socket in the data folder only (no TCP port), and the
/// socket's folder is private to the account that runs the server.
///
/// The calls block while the PostgreSQL tools run; call them from a command line's edge
/// or through the async wrappers, which use a thread of their own.
public struct PrivateCluster: Sendable {
    /// The superuser created by `initdb`; migrations connect as it.
    public static let superuser = "tidemark_admin"
    /// The database Tidemark keeps its catalog in.
    public static let databaseName = "tidemark"
    /// The role the service connects as (created by the first migration).
    public static let serviceRole = "tidemark_app"

    public enum Status: Sendable, Equatable {
        case notCreated
        case stopped
        case running(pid: Int)
    }

    public let dataDirectory: URL
    let binaries: PostgresBinaries
    let runner: ToolRunner

    /// Checks the folder's path and finds the server programs; creates nothing.
    public init(dataDirectory: URL, binaries: PostgresBinaries? = nil) throws(ClusterError) {
        self.dataDirectory = dataDirectory.standardizedFileURL
        let socketFile = self.dataDirectory.appendingPathComponent("run/.s.PGSQL.5432").path
        guard socketFile.utf8.count < 108 else {
            throw ClusterError(
                .unusableFolder,
                "the data folder \(self.dataDirectory.path) is too deep for a Unix socket path (\(socketFile.utf8.count) bytes; the limit is 107): choose a shorter --data-dir"
            )
        }
        if let binaries {
            self.binaries = binaries
        } else {
            self.binaries = try PostgresBinaries.locate()
        }
        self.runner = ToolRunner.forServerPrograms()
    }

    var clusterDirectory: URL { dataDirectory.appendingPathComponent("postgres") }
    /// The folder holding the server's Unix socket.
    public var socketDirectory: URL { dataDirectory.appendingPathComponent("run") }
    var logDirectory: URL { dataDirectory.appendingPathComponent("log") }
    public var logFile: URL { logDirectory.appendingPathComponent("postgres.log") }

    /// How to reach a database of this cluster as a role.
    public func settings(
        database: String = Self.databaseName, user: String = Self.serviceRole
    )
        -> PostgresConnectionSettings
    {
        PostgresConnectionSettings(
            "host=\(quote(socketDirectory.path)) dbname=\(quote(database)) user=\(quote(user))")
    }

    private func quote(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }

    public func status() throws(ClusterError) -> Status {
        guard FileManager.default.fileExists(atPath: clusterDirectory.appendingPathComponent("PG_VERSION").path) else {
            return .notCreated
        }
        let output = try runner.run(binaries.pgCtl, ["-D", clusterDirectory.path, "status"])
        switch output.status {
        case 0:
            let pid = output.text.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }.first ?? 0
            return .running(pid: pid)
        case 3: return .stopped
        default:
            throw ClusterError(.toolFailed, "pg_ctl status failed for \(clusterDirectory.path)", toolOutput: lastLines(output.text))
        }
    }

    /// Creates the cluster if needed, starts it if stopped, and creates the Tidemark database.
    /// Returns true when this call started the server.
    @discardableResult
    public func start() throws(ClusterError) -> Bool {
        try withStartLock { () throws(ClusterError) -> Bool in
            try prepareDirectories()
            if try status() == .notCreated {
                try initialize()
            }
            var started = false
            if try status() == .stopped {
                let output = try runner.run(
                    binaries.pgCtl,
                    ["-D", clusterDirectory.path, "-l", logFile.path, "-w", "-t", "60", "start"])
                guard output.status == 0 else {
                    throw ClusterError(
                        .toolFailed, "the private PostgreSQL server in \(clusterDirectory.path) did not start; its log is \(logFile.path)",
                        toolOutput: lastLines(output.text + "\n" + ((try? String(contentsOf: logFile, encoding: .utf8)) ?? "")))
                }
                started = true
            }
            return started
        }
    }

    /// Stops the server (fast shutdown: sessions are disconnected, nothing is lost).
    public func stop() throws(ClusterError) {
        guard case .running = try status() else { return }
        let output = try runner.run(binaries.pgCtl, ["-D", clusterDirectory.path, "-m", "fast", "-w", "stop"])
        guard output.status == 0 else {
            throw ClusterError(.toolFailed, "pg_ctl stop failed for \(clusterDirectory.path)", toolOutput: lastLines(output.text))
        }
    }

    private func initialize() throws(ClusterError) {
        let output = try runner.run(
            binaries.initdb,
            [
                "-D", clusterDirectory.path, "-U", Self.superuser, "--auth=trust", "--encoding=UTF8", "--no-locale",
                "--no-instructions",
            ])
        guard output.status == 0 else {
            throw ClusterError(.toolFailed, "initdb failed in \(clusterDirectory.path)", toolOutput: lastLines(output.text))
        }
        let settings = """

            # Tidemark's private cluster: Unix socket only, in a folder only the server account can enter.
            listen_addresses = ''
            unix_socket_directories = '\(socketDirectory.path.replacingOccurrences(of: "'", with: "''"))'
            unix_socket_permissions = 0700

            """
        let configuration = clusterDirectory.appendingPathComponent("postgresql.conf")
        do {
            let handle = try FileHandle(forWritingTo: configuration)
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(settings.utf8))
        } catch {
            throw ClusterError(.unusableFolder, "could not write \(configuration.path): \(error.localizedDescription)")
        }
    }

    /// Creates the folders; as root, hands the server's folders to the server account and
    /// checks that it can reach them.
    private func prepareDirectories() throws(ClusterError) {
        let manager = FileManager.default
        do {
            try manager.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
            for directory in [clusterDirectory, socketDirectory, logDirectory] {
                try manager.createDirectory(
                    at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            }
        } catch {
            throw ClusterError(.unusableFolder, "could not create the data folder \(dataDirectory.path): \(error.localizedDescription)")
        }
        guard let ids = try runner.serverAccountIDs() else { return }
        for directory in [clusterDirectory, socketDirectory, logDirectory] {
            if chown(directory.path, ids.uid, ids.gid) != 0 {
                throw ClusterError(
                    .unusableFolder,
                    "could not give \(directory.path) to the '\(ToolRunner.serverAccount)' user: \(String(cString: strerror(errno)))")
            }
        }
        let probe = try runner.run("/usr/bin/test", ["-w", clusterDirectory.path])
        guard probe.status == 0 else {
            throw ClusterError(
                .unusableFolder,
                "PostgreSQL refuses to run as root, so Tidemark runs it as the '\(ToolRunner.serverAccount)' user, which cannot reach \(clusterDirectory.path) (a parent folder is closed to it): choose a --data-dir it can traverse, such as /var/lib/tidemark"
            )
        }
    }

    /// Serialises starts of this cluster between processes with an advisory file lock.
    private func withStartLock<T>(_ body: () throws(ClusterError) -> T) throws(ClusterError) -> T {
        try? FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
        let lockPath = dataDirectory.appendingPathComponent(".start.lock").path
        let descriptor = open(lockPath, O_CREAT | O_RDWR, 0o600)
        guard descriptor >= 0 else {
            throw ClusterError(.unusableFolder, "could not open \(lockPath): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        guard flock(descriptor, LOCK_EX) == 0 else {
            throw ClusterError(.unusableFolder, "could not lock \(lockPath): \(String(cString: strerror(errno)))")
        }
        defer { flock(descriptor, LOCK_UN) }
        return try body()
    }
}

extension PrivateCluster {
    /// `start()` on a thread of its own, so an async caller does not block the cooperative pool.
    @discardableResult
    public func startInBackground() async throws -> Bool {
        try await runOffPool { () throws(ClusterError) in try start() }
    }

    /// `stop()` on a thread of its own.
    public func stopInBackground() async throws {
        try await runOffPool { () throws(ClusterError) in try stop() }
    }
}

/// Runs blocking work on a new thread and awaits its result.
func runOffPool<T: Sendable>(_ work: @escaping @Sendable () throws(ClusterError) -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            do {
                continuation.resume(returning: try work())
            } catch {
                continuation.resume(throwing: error)
            }
        }
        thread.start()
    }
}
