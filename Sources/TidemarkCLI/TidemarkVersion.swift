/// Tidemark's version: what `tidemark --version` prints. The only place it is written.
enum TidemarkVersion {
    static let current = "0.1.0"
}
