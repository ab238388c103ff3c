/// Seconds each stage of a transfer was busy, summed over the blocks processed in parallel.
///
/// `source` is reading the snapshot, `proxy` hashing and compressing, `network` waiting for
/// the throttle, `target` writing to the repository. Divided by the transfer's wall time and
/// parallelism they give each stage's busy percentage, and the largest names the bottleneck.
public struct StageTimes: Sendable, Equatable, Codable {
    public var source: Double = 0
    public var proxy: Double = 0
    public var network: Double = 0
    public var target: Double = 0

    public init() {}

    public mutating func add(_ other: StageTimes) {
        source += other.source
        proxy += other.proxy
        network += other.network
        target += other.target
    }

    /// The busiest stage's name.
    public var bottleneck: String {
        [("source", source), ("proxy", proxy), ("network", network), ("target", target)].max { $0.1 < $1.1 }!.0
    }
}
