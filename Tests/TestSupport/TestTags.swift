import Foundation
import Testing

extension Tag {
    /// Suites that kill and restart processes at many event boundaries: minutes each, bounded
    /// by a time limit; `swift test --skip crash`-style filters can leave them out locally.
    @Tag public static var crash: Self
}

/// A seed for a test's random choices: `TIDEMARK_TEST_SEED` to replay a failure, otherwise
/// a fresh one that the test prints in its failure messages. Draw from it with
/// `DiskImageGenerator.Generator(state: seed.value)` (SplitMix64).
public struct TestSeed: Sendable, CustomStringConvertible {
    public let value: UInt64

    public init() {
        value = ProcessInfo.processInfo.environment["TIDEMARK_TEST_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64.max)
    }

    public var description: String { "seed \(value) (TIDEMARK_TEST_SEED=\(value) replays it)" }
}
