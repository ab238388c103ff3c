import ArgumentParser
import BlockingIO
import CommandLineSupport
import Foundation
import Repository

/// `tidemark restore file`: a disk of a restore point back to a file straight from a
/// repository's folder, with no catalog and no session: the way in when the database is down
/// or the repository is encrypted (the catalog holds no keys). Also the default of `restore`,
/// so `tidemark restore --repository ...` works as it always did.
struct RestoreFileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "file",
        abstract: "Write a disk of a restore point back to a file straight from a repository folder (no catalog, nothing recorded).",
        discussion:
            "A destination inside any Tidemark repository (a repository.json above it, links resolved, or a repository the catalog names when a database is configured) is refused."
    )
    @Option(help: "The repository's folder.") var repository: String
    @Option(name: .customLong("restore-point"), help: "The restore point's id.") var restorePoint: String
    @Option(help: "The disk's name within the restore point.") var disk: String
    @Option(help: "The file to write.") var to: String?
    @Flag(help: "Replace the file if it exists.") var force = false
    @Flag(name: .customLong("verify-only"), help: "Read and check every block without writing.") var verifyOnly = false
    @OptionGroup var key: KeyOption
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if verifyOnly == (to != nil) {
            throw ValidationError("give either --to FILE or --verify-only")
        }
    }

    func run() async throws {
        let known = to == nil ? [] : await CatalogRepositories.paths(global)
        let (repository, restorePoint, disk, to, force, key) = (
            self.repository, self.restorePoint, self.disk, self.to, self.force, self.key
        )
        let verifyOnly = self.verifyOnly
        // Reading, hashing and writing a disk block the thread: not on the cooperative pool.
        let (manifest, result) = try await BlockingIOPool.shared.run { () throws -> (DiskManifest, DiskRestore.Result) in
            let store = try BackupRepository.open(at: URL(fileURLWithPath: repository), key: try key.load())
            if let to { try RestoreTarget.checkOutside(to, knownRepositories: known) }
            let manifest = try store.manifest(restorePoint: restorePoint, disk: disk)
            if verifyOnly { return (manifest, try DiskRestore.verifyOnly(manifest, from: store)) }
            return (manifest, try DiskRestore.restore(manifest, from: store, to: to ?? "", overwrite: force))
        }
        if verifyOnly {
            print("restore point \(restorePoint), disk \(disk): all \(result.blocksChecked) blocks check out")
        } else if let to {
            print(
                "restored \(megabytes(manifest.diskSize)) MB to \(to) (\(megabytes(result.bytesWritten)) MB written, the rest zeros); every block checked"
            )
        }
    }
}
