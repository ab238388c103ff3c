import Foundation

/// The numbered SQL files of this directory, shipped inside the binary's resource bundle so
/// that `tidemark db migrate` works wherever the executable runs.
public enum BundledMigrations {
    /// Every `NNNN_name.sql` file as (file name, contents), in file-name order.
    public static func files() throws -> [(name: String, sql: String)] {
        guard let directory = Bundle.module.resourceURL else { return [] }
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".sql") }
            .sorted()
        return try names.map { name in
            (name, try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8))
        }
    }
}
