import CFileSystem
import Foundation

/// Runs a PostgreSQL program and waits for it; server programs run as the unprivileged
/// `postgres` user when this process is root (the server refuses to run as root).
public struct ToolRunner: Sendable {
    /// The account the server runs as when Tidemark runs as root.
    public static let serverAccount = "postgres"

    public let runAsServerAccount: Bool

    public init(runAsServerAccount: Bool) {
        self.runAsServerAccount = runAsServerAccount
    }

    /// For server programs (initdb, pg_ctl): as `postgres` when root, else as this user.
    public static func forServerPrograms() -> ToolRunner {
        ToolRunner(runAsServerAccount: geteuid() == 0)
    }

    public struct Output: Sendable {
        public let status: Int32
        /// Standard output and standard error together.
        public let text: String
    }

    /// Runs and waits. Output (both streams) is captured in a temporary file for error messages.
    ///
    /// `posix_spawn` and `waitpid` rather than Foundation's `Process`: the server that
    /// `pg_ctl start` leaves running must not keep the caller waiting, and `waitpid` on the
    /// one child is exact. The child gets only standard input, output and error: every other
    /// descriptor of this process is closed in it.
    public func run(_ program: String, _ arguments: [String]) throws(ClusterError) -> Output {
        let argv =
            runAsServerAccount
            ? ["/usr/sbin/runuser", "-u", Self.serverAccount, "--", program] + arguments
            : [program] + arguments
        let outputPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("tidemark-tool-\(UUID().uuidString).log").path
        defer { unlink(outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else this process holds open reaches the tool, nor the server it leaves
        // running: a pipe of ours held by postgres would never see its end.
        tidemark_spawn_close_from(&actions, 3)
        var pid: pid_t = 0
        let spawned = withCStringArray(argv) { arguments in
            posix_spawn(&pid, argv[0], &actions, nil, arguments, environ)
        }
        guard spawned == 0 else {
            throw ClusterError(.toolFailed, "could not run \(argv[0]): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else {
                throw ClusterError(.toolFailed, "could not wait for \(program): \(String(cString: strerror(errno)))")
            }
        }
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        // WIFEXITED / WEXITSTATUS, which Swift does not import as macros.
        let exitStatus: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Output(status: exitStatus, text: text)
    }

    private func withCStringArray<R>(
        _ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R
    ) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { pointers.forEach { free($0) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    /// The numeric ids of the server account, when this process is root.
    func serverAccountIDs() throws(ClusterError) -> (uid: uid_t, gid: gid_t)? {
        guard runAsServerAccount else { return nil }
        guard let entry = getpwnam(Self.serverAccount) else {
            throw ClusterError(
                .notInstalled,
                "Tidemark runs as root and PostgreSQL refuses to: it runs the server as the '\(Self.serverAccount)' user, which does not exist here. Install Debian's 'postgresql' package (it creates the user) or run Tidemark as an ordinary user"
            )
        }
        return (entry.pointee.pw_uid, entry.pointee.pw_gid)
    }
}

/// The last lines of a tool's output, enough to show why it failed.
func lastLines(_ text: String, _ count: Int = 12) -> String {
    text.split(separator: "\n", omittingEmptySubsequences: true).suffix(count).joined(separator: "\n")
}
