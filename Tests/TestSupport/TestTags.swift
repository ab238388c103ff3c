import Foundation
import Testing

extension Tag {
    /// Suites that kill and restart processes at many event boundaries: minutes each, bounded
    /// by a time limit; `swift test --skip crash`-style filters can leave them out locally.
    @Tag public static var crash: Self
}

/// A seed for a test's random choices: `TIDEMARK_TEST_SEED` to replay a failure, otherwise
/// a fresh one that the test prints in its failure messages.
public struct TestSeed: Sendable, CustomStringConvertible {
    public let value: UInt64

    public init() {
        value = ProcessInfo.processInfo.environment["TIDEMARK_TEST_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64.max)
    }

    public var description: String { "seed \(value) (TIDEMARK_TEST_SEED=\(value) replays it)" }

    /// A deterministic generator from this seed (SplitMix64).
    public func generator() -> SeededRandom { SeededRandom(state: value) }
}

/// SplitMix64: the same sequence for the same seed on every machine.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    var state: UInt64

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
