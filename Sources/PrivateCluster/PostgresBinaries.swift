import Foundation

/// Where the PostgreSQL server programs are.
///
/// Looks on PATH first, then in Debian's `/usr/lib/postgresql/<version>/bin`, newest
/// version first, since Debian does not put `initdb` and `pg_ctl` on PATH.
public struct PostgresBinaries: Sendable {
    public let initdb: String
    public let pgCtl: String

    public static func locate(
        path: String? = ProcessInfo.processInfo.environment["PATH"], debianRoot: String = "/usr/lib/postgresql"
    ) throws(ClusterError) -> PostgresBinaries {
        var directories = (path ?? "").split(separator: ":").map(String.init)
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: debianRoot)) ?? []
        directories += versions.compactMap(Int.init).sorted(by: >).map { "\(debianRoot)/\($0)/bin" }
        let manager = FileManager.default
        for directory in directories {
            let initdb = directory + "/initdb"
            let pgCtl = directory + "/pg_ctl"
            if manager.isExecutableFile(atPath: initdb) && manager.isExecutableFile(atPath: pgCtl) {
                return PostgresBinaries(initdb: initdb, pgCtl: pgCtl)
            }
        }
        throw ClusterError(
            .notInstalled,
            "the PostgreSQL server programs (initdb, pg_ctl) are not on PATH nor in /usr/lib/postgresql/*/bin: install Debian's 'postgresql' package (apt-get install postgresql), or point --database-url at an existing server"
        )
    }
}
